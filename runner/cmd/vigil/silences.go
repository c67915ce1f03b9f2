package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/notify/match"
	"github.com/vigil-risk/vigil/runner/notify/silence"
)

func (c *cli) silencesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "silences",
		Short: "Add, list and expire silences: matchers that mute notifications for a while",
		Long: `A silence mutes the notifications of the alerts its matchers match (the alerts
are raised and handled as usual) from its start until its end, and expires by
itself then. Matchers are written as in Alertmanager: entity="c1",
severity=~"low|medium", rule!="x". The running runner sees changes at once:
silences live in the store (store.path).`,
	}
	cmd.PersistentFlags().String("db", "", "SQLite file (store.path)")
	cmd.PersistentFlags().String("actor", "", "who acts (default: $USER)")
	cmd.PersistentFlags().Bool("json", false, "print JSON")

	var (
		matchers       []string
		comment        string
		duration       time.Duration
		startsAt, ends string
	)
	add := &cobra.Command{
		Use:   "add -m MATCHER... (--duration D | --ends-at T) --comment WHY",
		Short: "Add a silence",
		Example: `  vigil silences add -m 'entity="ctok_7Hq2Lm9Xb4"' --duration 2h --comment "card under investigation"
  vigil silences add -m 'severity=~"low|medium"' -m env=prod --starts-at 2026-03-01T22:00:00Z --ends-at 2026-03-02T02:00:00Z --comment "maintenance"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ms, err := match.ParseAll(matchers)
			if err != nil {
				return fmt.Errorf("--matcher%w", err)
			}
			in := silence.Silence{Matchers: ms, CreatedBy: actor(cmd), Comment: comment}
			if startsAt != "" {
				if in.StartsAt, err = time.Parse(time.RFC3339, startsAt); err != nil {
					return fmt.Errorf("--starts-at: want RFC 3339 such as 2026-03-01T22:00:00Z: %w", err)
				}
			}
			switch {
			case ends != "" && duration != 0:
				return fmt.Errorf("set --ends-at or --duration, not both")
			case ends != "":
				if in.EndsAt, err = time.Parse(time.RFC3339, ends); err != nil {
					return fmt.Errorf("--ends-at: want RFC 3339 such as 2026-03-02T02:00:00Z: %w", err)
				}
			case duration > 0:
				if in.StartsAt.IsZero() {
					in.StartsAt = time.Now()
				}
				in.EndsAt = in.StartsAt.Add(duration)
			default:
				return fmt.Errorf("say how long: --duration (e.g. 2h) or --ends-at")
			}
			return c.withSilences(cmd, func(ctx context.Context, s *silence.Service) error {
				sil, err := s.Create(ctx, in)
				if err != nil {
					return err
				}
				if asJSON(cmd) {
					return writeJSON(c.stdout, sil)
				}
				fmt.Fprintf(c.stdout, "silence %s: %s, %s until %s\n", sil.ID, sil.Matchers, sil.State, sil.EndsAt.Format(time.RFC3339))
				return nil
			})
		},
	}
	add.Flags().StringArrayVarP(&matchers, "matcher", "m", nil, `a label matcher, e.g. 'severity="high"' (repeatable; all must match)`)
	add.Flags().DurationVar(&duration, "duration", 0, "how long from the start, e.g. 2h")
	add.Flags().StringVar(&startsAt, "starts-at", "", "when it starts, RFC 3339 (default now)")
	add.Flags().StringVar(&ends, "ends-at", "", "when it ends, RFC 3339")
	add.Flags().StringVar(&comment, "comment", "", "why (required)")

	var state string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List silences, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withSilences(cmd, func(ctx context.Context, s *silence.Service) error {
				sils, err := s.List(ctx, silence.Filter{State: silence.State(state), Limit: limit})
				if err != nil {
					return err
				}
				if asJSON(cmd) {
					return writeJSON(c.stdout, map[string]any{"silences": nonNil(sils)})
				}
				writeSilenceTable(c.stdout, sils)
				return nil
			})
		},
	}
	list.Flags().StringVar(&state, "state", "", "pending, active or expired (default all)")
	list.Flags().IntVar(&limit, "limit", 50, "at most this many")

	expire := &cobra.Command{
		Use:   "expire ID",
		Short: "End a silence now",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withSilences(cmd, func(ctx context.Context, s *silence.Service) error {
				sil, err := s.Expire(ctx, args[0], actor(cmd))
				if err != nil {
					return err
				}
				if asJSON(cmd) {
					return writeJSON(c.stdout, sil)
				}
				fmt.Fprintf(c.stdout, "silence %s expired at %s\n", sil.ID, sil.EndsAt.Format(time.RFC3339))
				return nil
			})
		},
	}
	cmd.AddCommand(add, list, expire)
	return cmd
}

// withSilences opens the configured store's silences for one command.
func (c *cli) withSilences(cmd *cobra.Command, fn func(context.Context, *silence.Service) error) error {
	return c.withStore(cmd, func(ctx context.Context, _ config.Config, db *sql.DB) error {
		s, err := silence.New(ctx, db, silence.Options{})
		if err != nil {
			return err
		}
		return fn(ctx, s)
	})
}

func writeSilenceTable(w io.Writer, sils []silence.Silence) {
	if len(sils) == 0 {
		fmt.Fprintln(w, "no silences")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tSTARTS\tENDS\tCREATED BY\tMATCHERS\tCOMMENT")
	for _, s := range sils {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.State, s.StartsAt.UTC().Format(time.RFC3339),
			s.EndsAt.UTC().Format(time.RFC3339), s.CreatedBy, s.Matchers, truncate(s.Comment, 40))
	}
	tw.Flush()
}
