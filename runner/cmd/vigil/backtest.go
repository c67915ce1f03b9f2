package main

import (
	"encoding/json"
	"fmt"
	"os"
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
the features up; metrics cover [--from, --to).`,
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
			rep, err := check.Backtest(cmd.Context(), o)
			if err != nil {
				return err
			}
			w := c.stdout
			if output != "" && output != "text" && output != "json" && output != "markdown" {
				return fmt.Errorf("--output %q: want text, json or markdown", output)
			}
			switch output {
			case "json":
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			case "markdown":
				rep.WriteMarkdown(w)
			default:
				rep.WriteText(w)
			}
			return nil
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
	fl.StringVarP(&output, "output", "o", "text", "text, json or markdown")
	fl.StringVar(&export, "export", "", "write records of [--export-from, --export-to) with label, features and scores as CSV (for training)")
	fl.StringVar(&exportFrom, "export-from", "", "start of the export period")
	fl.StringVar(&exportTo, "export-to", "", "end of the export period, exclusive")
	fl.IntVar(&workers, "workers", 0, "parallel evaluations (0: one per core)")
	fl.BoolVar(&progress, "progress", isTerminal(os.Stderr), "draw a progress bar on stderr")
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
