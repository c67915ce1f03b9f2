package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/record"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

func (c *cli) alertsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "List, show and handle alerts (in the configured store); export the labelled ones",
		Long: `Alerts are handled through a state machine: open → acknowledged → resolved
(with a label: true_positive, false_positive, benign or duplicate), reopen,
assign, comment, snooze. Every change is checked, recorded in the audit chain
with its actor, and may name the --version you saw: if someone changed the
alert since, it is refused (exit 1) instead of overwriting their change.`,
	}
	cmd.PersistentFlags().String("db", "", "SQLite file (store.path)")
	cmd.PersistentFlags().String("actor", "", "who acts (default: $USER)")
	cmd.PersistentFlags().Bool("json", false, "print JSON")

	var f alert.Filter
	var status, severity string
	list := &cobra.Command{
		Use:   "list",
		Short: "List alerts, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.Status, f.Severity = alert.Status(status), decision.Severity(severity)
			return c.withAlerts(cmd, func(ctx context.Context, s *alert.Service) error {
				alerts, err := s.List(ctx, f)
				if err != nil {
					return err
				}
				if asJSON(cmd) {
					return writeJSON(c.stdout, map[string]any{"alerts": nonNil(alerts)})
				}
				writeAlertTable(c.stdout, alerts)
				return nil
			})
		},
	}
	list.Flags().StringVar(&status, "status", "", "open, acknowledged or resolved")
	list.Flags().StringVar(&f.Rule, "rule", "", "only this rule")
	list.Flags().StringVar(&severity, "severity", "", "only this severity")
	list.Flags().StringVar(&f.Entity, "entity", "", "only this entity value")
	list.Flags().StringVar(&f.Assignee, "assignee", "", `only alerts assigned to this person or "team:<name>" ("-": unassigned)`)
	list.Flags().BoolVar(&f.Unresolved, "unresolved", false, "only open and acknowledged alerts")
	list.Flags().IntVar(&f.Limit, "limit", 50, "at most this many")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show an alert with its records and audit events",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			return c.withAlerts(cmd, func(ctx context.Context, s *alert.Service) error {
				a, err := s.Get(ctx, id)
				if err != nil {
					return err
				}
				recs, err := s.Records(ctx, id)
				if err != nil {
					return err
				}
				events, err := s.Events(ctx, id)
				if err != nil {
					return err
				}
				if asJSON(cmd) {
					return writeJSON(c.stdout, map[string]any{"alert": a, "records": nonNil(recs), "events": nonNil(events)})
				}
				writeAlertDetail(c.stdout, a, recs, events)
				return nil
			})
		},
	}

	cmd.AddCommand(list, show)
	cmd.AddCommand(c.alertActionCmds()...)
	cmd.AddCommand(c.alertsBulkCmd(), c.alertsExportCmd())
	cmd.AddCommand(c.guardCmd()) // handling.go
	return cmd
}

// withStore opens the configured store (store.path) for one command.
func (c *cli) withStore(cmd *cobra.Command, fn func(context.Context, config.Config, *sql.DB) error) error {
	cfg, err := c.loadConfig(cmd.Flags(), shortcut{"db", "store.path"})
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	db, err := sqldb.Open(ctx, cfg.Store.Path)
	if err != nil {
		return fmt.Errorf("store.path: %w", err)
	}
	defer db.Close()
	return fn(ctx, cfg, db)
}

// withAlerts opens the configured store's alerts for one command.
func (c *cli) withAlerts(cmd *cobra.Command, fn func(context.Context, *alert.Service) error) error {
	return c.withStore(cmd, func(ctx context.Context, _ config.Config, db *sql.DB) error {
		s, err := openAlerts(ctx, db)
		if err != nil {
			return err
		}
		return fn(ctx, s)
	})
}

// openAlerts is the alert service of a command: no metrics, no hooks.
func openAlerts(ctx context.Context, db *sql.DB) (*alert.Service, error) {
	store, err := alertsqlite.New(ctx, db)
	if err != nil {
		return nil, err
	}
	return alert.NewService(store, alert.Options{})
}

func (c *cli) printChanged(cmd *cobra.Command, a alert.Alert) error {
	if asJSON(cmd) {
		return writeJSON(c.stdout, a)
	}
	fmt.Fprintf(c.stdout, "alert %d is %s", a.ID, a.Status)
	if a.Resolution != "" {
		fmt.Fprintf(c.stdout, " (%s)", a.Resolution)
	}
	fmt.Fprintln(c.stdout)
	return nil
}

func actor(cmd *cobra.Command) string {
	if v, _ := cmd.Flags().GetString("actor"); v != "" {
		return v
	}
	if u := currentUser(); u != "" {
		return u
	}
	return "cli"
}

func asJSON(cmd *cobra.Command) bool {
	v, _ := cmd.Flags().GetBool("json")
	return v
}

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, fmt.Errorf("alert id %q: want a positive integer", s)
	}
	return id, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func writeAlertTable(w io.Writer, alerts []alert.Alert) {
	if len(alerts) == 0 {
		fmt.Fprintln(w, "no alerts")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tSEVERITY\tRULE\tENTITY\tCOUNT\tLAST SEEN\tREASON")
	for _, a := range alerts {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", a.ID, a.Status, a.Severity, a.Rule, a.Entity,
			a.Count, a.LastSeen.UTC().Format(time.RFC3339), truncate(a.Reason, 60))
	}
	tw.Flush()
}

func writeAlertDetail(w io.Writer, a alert.Alert, recs []alert.AlertRecord, events []alert.Event) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "alert\t%d (%s)\n", a.ID, a.Fingerprint)
	fmt.Fprintf(tw, "rule\t%s — %s\n", a.Rule, a.Title)
	fmt.Fprintf(tw, "status\t%s %s\n", a.Status, a.Resolution)
	fmt.Fprintf(tw, "severity\t%s (asks %s)\n", a.Severity, a.Action)
	fmt.Fprintf(tw, "entity\t%s\n", a.Entity)
	fmt.Fprintf(tw, "count\t%d, first seen %s, last seen %s\n", a.Count, a.FirstSeen.UTC().Format(time.RFC3339), a.LastSeen.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "reason\t%s\n", a.Reason)
	if a.Runbook != "" {
		fmt.Fprintf(tw, "runbook\t%s\n", a.Runbook)
	}
	fmt.Fprintf(tw, "policy\t%s\n", a.PolicyRevision)
	tw.Flush()
	fmt.Fprintf(w, "\nrecords (%d kept):\n", len(recs))
	for _, r := range recs {
		b, _ := json.Marshal(r)
		fmt.Fprintf(w, "  %s\n", truncate(string(b), 200))
	}
	fmt.Fprintf(w, "\naudit:\n")
	for _, e := range events {
		line := fmt.Sprintf("  %s  %-12s by %s", e.Time.UTC().Format(time.RFC3339), e.Kind, e.Actor)
		if e.Comment != "" {
			line += ": " + e.Comment
		}
		fmt.Fprintln(w, line)
	}
}

func truncate(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// actionFlags are what the lifecycle commands may take; each command
// registers the ones its kind uses.
type actionFlags struct {
	comment, resolution, assignee, until string
	forDur                               time.Duration
	version                              int
}

// action builds the alert.Action of kind from the flags.
func (f *actionFlags) action(cmd *cobra.Command, kind alert.ActionKind, now time.Time) (alert.Action, error) {
	a := alert.Action{Kind: kind, Actor: actor(cmd), Comment: f.comment, Resolution: alert.Resolution(f.resolution),
		Assignee: f.assignee, Version: f.version}
	switch {
	case f.until != "" && f.forDur != 0:
		return a, errors.New("--until and --for: choose one")
	case f.until != "":
		t, err := time.Parse(time.RFC3339, f.until)
		if err != nil {
			return a, fmt.Errorf("--until %q: want an RFC 3339 time such as 2026-03-01T18:00:00Z", f.until)
		}
		a.Until = t
	case f.forDur < 0:
		return a, fmt.Errorf("--for %s: want a positive duration", f.forDur)
	case f.forDur > 0:
		a.Until = now.Add(f.forDur)
	}
	return a, nil
}

// register adds the flags kind takes to fs.
func (f *actionFlags) register(cmd *cobra.Command, kind alert.ActionKind, bulk bool) {
	fs := cmd.Flags()
	usage := "why (kept in the audit trail)"
	if kind == alert.ActComment {
		usage = "the comment (required)"
	}
	fs.StringVar(&f.comment, "comment", "", usage)
	if !bulk {
		fs.IntVar(&f.version, "version", 0, "the version you saw (alerts show); refused if the alert changed since")
	}
	if kind == alert.ActResolve || bulk {
		fs.StringVar(&f.resolution, "resolution", "", "resolve: true_positive, false_positive, benign or duplicate (required)")
	}
	if kind == alert.ActAssign || bulk {
		fs.StringVar(&f.assignee, "to", "", `assign: a person, or "team:<name>" (required)`)
	}
	if kind == alert.ActSnooze || bulk {
		fs.StringVar(&f.until, "until", "", "snooze: until this RFC 3339 time")
		fs.DurationVar(&f.forDur, "for", 0, "snooze: for this long, e.g. 2h")
	}
}

// alertActionCmds are `vigil alerts ack|resolve|reopen|assign|unassign|comment|snooze|unsnooze ID`.
func (c *cli) alertActionCmds() []*cobra.Command {
	shorts := map[alert.ActionKind]string{
		alert.ActAck:      "Acknowledge an open alert: someone is on it",
		alert.ActResolve:  "Resolve an alert with a label: true_positive, false_positive, benign or duplicate",
		alert.ActReopen:   "Reopen a resolved alert",
		alert.ActAssign:   `Assign an alert to a person or "team:<name>" (--to)`,
		alert.ActUnassign: "Take an alert's assignee away",
		alert.ActComment:  "Add a comment to an alert's audit trail (--comment)",
		alert.ActSnooze:   "Hold an alert's escalation and auto-resolve --until a time or --for a while",
		alert.ActUnsnooze: "End a snooze early",
	}
	var out []*cobra.Command
	for _, kind := range alert.ActionKinds() {
		var f actionFlags
		cmd := &cobra.Command{
			Use:   string(kind) + " ID",
			Short: shorts[kind],
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				id, err := parseID(args[0])
				if err != nil {
					return err
				}
				act, err := f.action(cmd, kind, time.Now())
				if err != nil {
					return err
				}
				return c.withAlerts(cmd, func(ctx context.Context, s *alert.Service) error {
					a, err := s.Apply(ctx, id, act)
					if err != nil {
						return err
					}
					return c.printChanged(cmd, a)
				})
			},
		}
		f.register(cmd, kind, false)
		out = append(out, cmd)
	}
	return out
}

// alertsBulkCmd is `vigil alerts bulk KIND [ID...]`: one action over many
// alerts, given by id or selected by --rule/--status.
func (c *cli) alertsBulkCmd() *cobra.Command {
	var f actionFlags
	var sel alert.Filter
	var status string
	cmd := &cobra.Command{
		Use:   "bulk KIND [ID...]",
		Short: "Apply one action to many alerts: by id, or all that --rule/--status/--entity select",
		Long: `Bulk applies one action (ack, resolve, reopen, assign, unassign, comment, snooze,
unsnooze) to each alert on its own: some may be refused (already resolved, say)
while the others change. It prints one line per alert and exits 1 if any was
refused. Without ids it acts on the alerts the filters select (at most 1000).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind := alert.ActionKind(args[0])
			act, err := f.action(cmd, kind, time.Now())
			if err != nil {
				return err
			}
			var ids []int64
			for _, arg := range args[1:] {
				id, err := parseID(arg)
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
			filtered := sel.Rule != "" || status != "" || sel.Entity != ""
			if len(ids) > 0 && filtered {
				return errors.New("give alert ids or --rule/--status/--entity, not both")
			}
			return c.withAlerts(cmd, func(ctx context.Context, s *alert.Service) error {
				if filtered {
					sel.Status, sel.Limit = alert.Status(status), alert.MaxBulk
					as, err := s.List(ctx, sel)
					if err != nil {
						return err
					}
					if len(as) == 0 {
						return errors.New("no alert matches the filters")
					}
					for _, a := range as {
						ids = append(ids, a.ID)
					}
				}
				res, err := s.ApplyMany(ctx, ids, act)
				if err != nil {
					return err
				}
				return c.printBulk(cmd, res)
			})
		},
	}
	f.register(cmd, "", true)
	cmd.Flags().StringVar(&sel.Rule, "rule", "", "select the alerts of this rule")
	cmd.Flags().StringVar(&status, "status", "", "select the alerts with this status")
	cmd.Flags().StringVar(&sel.Entity, "entity", "", "select the alerts on this entity value")
	return cmd
}

func (c *cli) printBulk(cmd *cobra.Command, res []alert.BulkResult) error {
	refused := 0
	type line struct {
		ID     int64        `json:"id"`
		Alert  *alert.Alert `json:"alert,omitempty"`
		Error  string       `json:"error,omitempty"`
		Status alert.Status `json:"status,omitempty"`
	}
	lines := make([]line, len(res))
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	for i, r := range res {
		lines[i].ID = r.ID
		if r.Err != nil {
			refused++
			lines[i].Error = r.Err.Error()
			if !asJSON(cmd) {
				fmt.Fprintf(tw, "%d\trefused\t%s\n", r.ID, r.Err)
			}
			continue
		}
		a := r.Alert
		lines[i].Alert, lines[i].Status = &a, a.Status
		if !asJSON(cmd) {
			fmt.Fprintf(tw, "%d\t%s\t%s\tversion %d\n", r.ID, a.Status, a.Resolution, a.Version)
		}
	}
	if asJSON(cmd) {
		if err := writeJSON(c.stdout, map[string]any{"results": lines, "applied": len(res) - refused, "refused": refused}); err != nil {
			return err
		}
	} else {
		tw.Flush()
		fmt.Fprintf(c.stdout, "%d applied, %d refused\n", len(res)-refused, refused)
	}
	if refused > 0 {
		return exitError{code: 1}
	}
	return nil
}

// feedLabel gives the features an analyst's label (alert.LabelRecord, fed by
// the label feed in handling.go) as if a label record had arrived from a
// source: the delayed-label features (terminal fraud counts and risk) learn
// from resolutions. A label never reaches the alert store (pipeline: labels
// are not judged), so it may run inside the feed's transaction.
func (a *app) feedLabel(ctx context.Context, label record.Record) {
	rec, errs := a.pipe.Normalizer().Normalize(label.Fields)
	if len(errs) > 0 {
		a.log.Warn("alert label does not fit the schema; the features do not see it", "label", label.ID, "err", errs[0].Error())
		return
	}
	if _, err := a.pipe.Decide(ctx, rec, labelSource); err != nil {
		a.log.Warn("alert label not applied to the features", "label", label.ID, "err", err)
	}
}

// labelSource is the source name of the labels analysts' resolutions make.
const labelSource = "alerts"
