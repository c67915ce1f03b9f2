package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/alert/export"
	"github.com/vigil-risk/vigil/runner/policy"
)

// alertsExportCmd is `vigil alerts export --out DIR`.
func (c *cli) alertsExportCmd() *cobra.Command {
	var o export.Options
	var status, since, policies string
	cmd := &cobra.Command{
		Use:   "export --out DIR",
		Short: "Write handled alerts as a labelled dataset and as scenario fixtures for vigil test",
		Long: `Export writes the alerts (resolved ones by default) with their kept records:

  DIR/labels.jsonl   one line per record of each alert: the record, the alert,
                     its resolution and fraud (true_positive: true; false_positive,
                     benign: false). Duplicates are skipped.
  DIR/fixtures/      one scenario per alert, in the format of vigil test --fixtures.

Each fixture expects what the current policy decides, so it passes as exported;
the analyst's label is in its comments. A false positive becomes a regression
case once the rule is fixed: edit that fixture's expect (drop the rule from the
hits), copy it to fixtures/scenarios/, and vigil test keeps the fix.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Out == "" {
				return errors.New("--out: a directory is required")
			}
			o.Status = alert.Status(status)
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return err
				}
				o.Since = t
			}
			cfg, err := c.loadConfig(cmd.Flags(), shortcut{"db", "store.path"}, shortcut{"policies", "policies.path"})
			if err != nil {
				return err
			}
			popts, err := verification(cfg.Policies)
			if err != nil {
				return err
			}
			engine, err := policy.NewEngine(cmd.Context(), cfg.Policies.Path, c.logger(cfg.Log), popts...)
			if err != nil {
				return fmt.Errorf("policies %s: %w", cfg.Policies.Path, oneLine(err))
			}
			o.Engine, o.Record = engine, recordOptions(cfg.Record)
			return c.withAlerts(cmd, func(ctx context.Context, s *alert.Service) error {
				sum, err := export.Export(ctx, s, o)
				if err != nil {
					return err
				}
				if asJSON(cmd) {
					return writeJSON(c.stdout, sum)
				}
				fmt.Fprintf(c.stdout, "exported %d alerts (%d duplicates skipped, %d without records)\n", sum.Alerts, sum.Duplicates, sum.NoRecords)
				fmt.Fprintf(c.stdout, "  dataset   %s: %d lines from %d labelled alerts\n", sum.Dataset, sum.Lines, sum.Labelled)
				fmt.Fprintf(c.stdout, "  fixtures  %s: %d files, %d records (vigil test --fixtures %s)\n", sum.FixtureDir, sum.Fixtures, sum.Records, sum.FixtureDir)
				return nil
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Out, "out", "", "output directory (required)")
	fs.StringVar(&status, "status", "resolved", "alerts with this status")
	fs.StringVar(&since, "since", "", "alerts raised since: an RFC 3339 time, a date (2026-03-01) or a duration back (72h)")
	fs.StringVar(&o.Rule, "rule", "", "only this rule's alerts")
	fs.StringVar(&policies, "policies", "", "bundle directory the fixtures' expectations come from (policies.path)")
	return cmd
}

// parseSince reads a time, a date or a duration back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want an RFC 3339 time, a date such as 2026-03-01, or a duration such as 72h", s)
}
