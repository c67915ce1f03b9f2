package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

func (c *cli) alertsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "List, show, acknowledge and resolve alerts (in the configured store)",
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

	var comment, resolution string
	ack := &cobra.Command{
		Use:   "ack ID",
		Short: "Acknowledge an open alert",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			return c.withAlerts(cmd, func(ctx context.Context, s *alert.Service) error {
				a, err := s.Ack(ctx, id, actor(cmd), comment)
				if err != nil {
					return err
				}
				return c.printChanged(cmd, a)
			})
		},
	}
	ack.Flags().StringVar(&comment, "comment", "", "why")
	resolve := &cobra.Command{
		Use:   "resolve ID --resolution LABEL",
		Short: "Resolve an alert with a label: true_positive, false_positive, benign or duplicate",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			return c.withAlerts(cmd, func(ctx context.Context, s *alert.Service) error {
				a, err := s.Resolve(ctx, id, actor(cmd), alert.Resolution(resolution), comment)
				if err != nil {
					return err
				}
				return c.printChanged(cmd, a)
			})
		},
	}
	resolve.Flags().StringVar(&resolution, "resolution", "", "true_positive, false_positive, benign or duplicate (required)")
	resolve.Flags().StringVar(&comment, "comment", "", "why")
	cmd.AddCommand(list, show, ack, resolve)
	return cmd
}

// withAlerts opens the configured store for one command.
func (c *cli) withAlerts(cmd *cobra.Command, fn func(context.Context, *alert.Service) error) error {
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
	store, err := alertsqlite.New(ctx, db)
	if err != nil {
		return err
	}
	s, err := alert.NewService(store, alert.Options{})
	if err != nil {
		return err
	}
	return fn(ctx, s)
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
