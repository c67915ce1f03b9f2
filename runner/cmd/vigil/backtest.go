package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-risk/vigil/runner/check"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/feature"
	"github.com/vigil-risk/vigil/runner/record"
)

func (c *cli) backtestCmd() *cobra.Command {
	var (
		data, label, format, output, from, to, exportFrom, exportTo, export, knownSince string
		labelDelay                                                                      time.Duration
		k, workers                                                                      int
		cardField                                                                       string
		progress                                                                        bool
		imp                                                                             impactFlags
	)
	cmd := &cobra.Command{
		Use:   "backtest --data FILE --label COLUMN",
		Short: "Replay a labelled dataset and report each rule's precision and recall and each score's average precision",
		Long: `Backtest replays a labelled dataset (CSV, JSON or JSONL, optionally .gz; mapped onto the
record schema by record.rename / record.defaults in a --config file) through the real
pipeline — features, model scores, rules, alerts — and measures it against the labels:
per rule hits, precision, recall and alerts per day, the decision mix, and for each model
score (and the decision score) the average precision and card precision@k.

The label column is taken off every record before anything sees it, and comes back as a
label record --label-delay after its record, so label-based features (a terminal's
confirmed frauds) only know what was known at the time. Everything before --from warms
the features up; metrics cover [--from, --to).

With --base, the dataset is replayed under the base bundle and the policies under
review side by side: per rule hits, precision, recall and alerts per day before → after,
the decisions that changed (with examples), new and removed rules; gates
(--max-alert-increase, --min-precision) make the exit code 1 when they fail.
--output github (the default under GitHub Actions) puts the report in the job summary.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.loadConfig(cmd.Flags(), shortcut{"policies", "policies.path"})
			if err != nil {
				return err
			}
			f, err := record.ParseFormat(format)
			if err != nil {
				return fmt.Errorf("--format: %w", err)
			}
			o := check.BacktestOptions{
				Policies: cfg.Policies.Path, Data: data, Format: f, Record: recordOptions(cfg.Record),
				Label: label, LabelDelay: labelDelay, K: k, CardField: cardField, Workers: workers,
				Features: feature.Options{Lateness: cfg.Features.Lateness}, MaxEntities: cfg.Features.MaxEntities,
				Export: export, Log: c.logger(cfg.Log),
			}
			o.MinSeverity, _ = decision.ParseSeverity(cfg.Alerts.MinSeverity)
			for _, d := range []struct {
				flag, v string
				t       *time.Time
			}{{"--from", from, &o.From}, {"--to", to, &o.To}, {"--exclude-known-since", knownSince, &o.KnownSince}, {"--export-from", exportFrom, &o.ExportFrom}, {"--export-to", exportTo, &o.ExportTo}} {
				if d.v == "" {
					continue
				}
				t, err := parseWhen(d.v)
				if err != nil {
					return fmt.Errorf("%s: %w", d.flag, err)
				}
				*d.t = t
			}
			if progress {
				o.Progress = c.stderr
			}
			format, err := check.ParseFormat(output, c.getenv, check.FormatText, check.FormatJSON, check.FormatMarkdown, check.FormatGitHub, check.FormatJUnit)
			if err != nil {
				return fmt.Errorf("--output %w", err)
			}
			if imp.base == "" {
				if imp.html != "" || imp.maxAlertIncrease != "" || imp.minPrecision != 0 {
					return fmt.Errorf("--html, --max-alert-increase and --min-precision compare against --base: name the base bundle or git revision")
				}
				rep, err := check.Backtest(cmd.Context(), o)
				if err != nil {
					return err
				}
				return rep.Write(c.stdout, format, c.actions())
			}
			return c.impact(cmd.Context(), o, imp, format)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&data, "data", "", "labelled dataset (required)")
	fl.StringVar(&label, "label", "", "column (before renames) or field with the ground truth (required)")
	fl.DurationVar(&labelDelay, "label-delay", 0, "how long after its record a label becomes known to the features, e.g. 168h")
	fl.StringVar(&format, "format", "auto", "input format: auto, json, jsonl or csv")
	fl.StringVar(&from, "from", "", "start of the evaluation period (RFC 3339 or a date); earlier records warm up the features")
	fl.StringVar(&to, "to", "", "end of the evaluation period, exclusive")
	fl.IntVar(&k, "k", 100, "k of card precision@k")
	fl.StringVar(&knownSince, "exclude-known-since", "", "leave out records of cards with a fraud (since this date) known before their day — the handbook's test protocol")
	fl.StringVar(&cardField, "card-field", "card_id", "the entity of card precision@k (customer_id when a record lacks it)")
	fl.StringVarP(&output, "output", "o", "", "report format: text, json, markdown, github or junit (default github under GitHub Actions, else text)")
	fl.StringVar(&export, "export", "", "write records of [--export-from, --export-to) with label, features and scores as CSV (for training)")
	fl.StringVar(&exportFrom, "export-from", "", "start of the export period")
	fl.StringVar(&exportTo, "export-to", "", "end of the export period, exclusive")
	fl.IntVar(&workers, "workers", 0, "parallel evaluations (0: one per core)")
	fl.BoolVar(&progress, "progress", isTerminal(os.Stderr), "draw a progress bar on stderr")
	fl.StringVar(&imp.base, "base", "", "compare with this base bundle: a git revision (e.g. origin/main) of the policies directory, or a bundle directory or .tar.gz")
	fl.StringVar(&imp.html, "html", "", "with --base: also write the impact report as a self-contained HTML page with charts")
	fl.StringVar(&imp.maxAlertIncrease, "max-alert-increase", "", "with --base: fail when alerts per day grow by more than this, e.g. 20%")
	fl.Float64Var(&imp.minPrecision, "min-precision", 0, "with --base: fail when an enforced rule the change touched has a lower precision, e.g. 0.5")
	fl.IntVar(&imp.examples, "examples", 3, "with --base: changed decisions shown per transition")
	fl.String("policies", "", "bundle directory or .tar.gz (policies.path)")
	_ = cmd.MarkFlagRequired("data")
	_ = cmd.MarkFlagRequired("label")
	return cmd
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// parseWhen reads a date (2018-08-08, midnight UTC) or a timestamp.
func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return record.ParseTime(s)
}

// impactFlags are backtest's flags for comparing with a base bundle.
type impactFlags struct {
	base, html, maxAlertIncrease string
	minPrecision                 float64
	examples                     int
}

// impact compares the base bundle with the policies under review.
func (c *cli) impact(ctx context.Context, o check.BacktestOptions, f impactFlags, format check.Format) error {
	opts := check.ImpactOptions{Backtest: o, Examples: f.examples, MinPrecision: f.minPrecision}
	if f.maxAlertIncrease != "" {
		v, err := parseShare(f.maxAlertIncrease)
		if err != nil {
			return fmt.Errorf("--max-alert-increase: %w", err)
		}
		opts.MaxAlertIncrease = &v
	}
	if f.minPrecision < 0 || f.minPrecision > 1 {
		return fmt.Errorf("--min-precision %v: want a share between 0 and 1", f.minPrecision)
	}
	base, label, cleanup, err := check.ResolveBase(ctx, f.base, o.Policies)
	if err != nil {
		return err
	}
	defer cleanup()
	opts.Base, opts.BaseRef = base, label
	rep, err := check.Impact(ctx, opts)
	if err != nil {
		return err
	}
	if f.html != "" {
		if err := writeFileWith(f.html, rep.WriteHTML); err != nil {
			return fmt.Errorf("--html: %w", err)
		}
	}
	if err := rep.Write(c.stdout, format, c.actions()); err != nil {
		return err
	}
	if !rep.OK() {
		return exitError{code: 1}
	}
	return nil
}

// parseShare reads "20%" or "0.2" as 0.2.
func parseShare(s string) (float64, error) {
	t := strings.TrimSpace(s)
	div := 1.0
	if strings.HasSuffix(t, "%") {
		t, div = strings.TrimSuffix(t, "%"), 100
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q: want a percentage such as 20%% or a share such as 0.2", s)
	}
	return v / div, nil
}

// writeFileWith writes a file through write, and removes it on failure.
func writeFileWith(path string, write func(w io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
