package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/ingest"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/record"
)

func (c *cli) replayCmd() *cobra.Command {
	var (
		format       string
		summary      bool
		out          string
		store        string
		state        string
		logFeatures  bool
		differential bool
	)
	cmd := &cobra.Command{
		Use:   "replay FILE",
		Short: "Run a file through the pipeline in event time and print decisions or a summary",
		Long: `Replay runs every record of FILE ("-" for stdin; JSON, JSONL or CSV) through the
same pipeline as the runner, in event time, and prints one decision per line
(JSONL) or, with --summary, the counts per action and per rule. Alerts are
raised into a throwaway store unless --store names one to keep; nothing is
sent to any receiver. Map a foreign CSV with record.rename and record.defaults
in a --config file.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := c.loadConfig(cmd.Flags(), shortcut{"policies", "policies.path"}, shortcut{"log-features", "features.log_features"})
			if err != nil {
				return err
			}
			f, err := record.ParseFormat(format)
			if err != nil {
				return fmt.Errorf("--format: %w", err)
			}
			return c.replay(cmd.Context(), cfg, args[0], f, summary, out, store, state, differential)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "auto", "input format: auto, json, jsonl or csv")
	fl.BoolVar(&summary, "summary", false, "print counts per action and rule instead of decisions")
	fl.StringVarP(&out, "out", "o", "-", `where decisions go: "-" for stdout or a JSONL file`)
	fl.StringVar(&store, "store", "", "SQLite file to keep the replay's alerts in (default: a throwaway one)")
	fl.StringVar(&state, "state", "", "feature snapshot: restored before the replay when it exists, written after it (replay a stream in parts)")
	fl.BoolVar(&differential, "differential", false, "also evaluate every record with plain OPA and stop at the first difference (a check of the fast path)")
	fl.BoolVar(&logFeatures, "log-features", false, "show the features and scores each decision saw (features.log_features)")
	fl.String("policies", "", "bundle directory or .tar.gz (policies.path)")
	return cmd
}

func (c *cli) replay(ctx context.Context, cfg config.Config, file string, format record.Format, summary bool, out, store, state string, differential bool) error {
	log := c.logger(cfg.Log)
	if store == "" {
		dir, err := os.MkdirTemp("", "vigil-replay-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		store = filepath.Join(dir, "replay.db")
	}
	cfg.Store.Path = store
	cfg.DeadLetter.Path = "" // refused records are counted and logged, not appended to the runner's file

	var dw pipeline.DecisionWriter
	if !summary {
		var jl *pipeline.JSONL
		if out == "-" {
			jl = pipeline.NewJSONL(c.stdout, nil)
		} else {
			var err error
			if jl, err = pipeline.OpenJSONL(out); err != nil {
				return err
			}
		}
		defer jl.Close()
		dw = pipeline.DecisionLog{JSONL: jl}
	}
	sum := newReplaySummary()
	a, err := newApp(ctx, cfg, log, appParts{alerts: true, decisions: dw, onAlerts: sum.alerted, state: state, differential: differential})
	if err != nil {
		return err
	}
	defer a.Close()

	var src ingest.Source
	opts := []record.ReaderOption{record.WithMaxLineBytes(cfg.Record.MaxLineBytes)}
	if file == "-" {
		src = &ingest.Reader{SourceName: "stdin", R: c.stdin, Format: format, Normalizer: a.pipe.Normalizer, Options: opts}
	} else {
		if _, err := os.Stat(file); err != nil {
			return err
		}
		src = &ingest.File{Path: file, Format: format, Normalizer: a.pipe.Normalizer, Options: opts}
	}
	counting := &countingSource{Source: src, sum: sum}
	start := time.Now()
	if err := a.pipe.Run(ctx, counting, sum.add); err != nil {
		return err
	}
	sum.elapsed = time.Since(start)
	if err := a.saveState(); err != nil {
		return err
	}
	if summary {
		sum.write(c.stdout, a.pipe.Policy().Revision)
	}
	return nil
}

// replaySummary counts what a replay decided.
type replaySummary struct {
	records, refused int
	actions          map[decision.Action]int
	hits, shadow     map[string]int
	alerts           map[int64]bool
	evalUS           int64
	elapsed          time.Duration
}

func newReplaySummary() *replaySummary {
	return &replaySummary{actions: map[decision.Action]int{}, hits: map[string]int{}, shadow: map[string]int{}, alerts: map[int64]bool{}}
}

func (s *replaySummary) add(_ record.Record, d *decision.Decision) {
	s.records++
	s.actions[d.Action]++
	s.evalUS += d.EvalUS
	for _, h := range d.Hits {
		s.hits[h.Rule]++
	}
	for _, h := range d.ShadowHits {
		s.shadow[h.Rule]++
	}
}

func (s *replaySummary) alerted(alerts []alert.Alert) {
	for _, a := range alerts {
		s.alerts[a.ID] = true
	}
}

func (s *replaySummary) write(w io.Writer, revision string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "policy revision\t%s\n", revision)
	fmt.Fprintf(tw, "records\t%d decided, %d refused\n", s.records, s.refused)
	fmt.Fprintf(tw, "actions\tallow %d, review %d, block %d\n", s.actions[decision.Allow], s.actions[decision.Review], s.actions[decision.Block])
	fmt.Fprintf(tw, "alerts\t%d raised\n", len(s.alerts))
	if s.records > 0 {
		fmt.Fprintf(tw, "time\t%s, %.0f records/s, eval %.1f µs/record\n", s.elapsed.Round(time.Millisecond),
			float64(s.records)/s.elapsed.Seconds(), float64(s.evalUS)/float64(s.records))
	}
	tw.Flush()
	for _, part := range []struct {
		title string
		m     map[string]int
	}{{"enforced hits per rule", s.hits}, {"shadow hits per rule", s.shadow}} {
		if len(part.m) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", part.title)
		names := make([]string, 0, len(part.m))
		for n := range part.m {
			names = append(names, n)
		}
		sort.Slice(names, func(i, j int) bool {
			if part.m[names[i]] != part.m[names[j]] {
				return part.m[names[i]] > part.m[names[j]]
			}
			return names[i] < names[j]
		})
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		for _, n := range names {
			fmt.Fprintf(tw, "  %d\t  %s\t\n", part.m[n], n)
		}
		tw.Flush()
	}
}

// countingSource counts refused records on their way to the pipeline.
type countingSource struct {
	ingest.Source
	sum *replaySummary
}

func (s *countingSource) Run(ctx context.Context, h ingest.Handler) error {
	return s.Source.Run(ctx, &countingHandler{Handler: h, sum: s.sum})
}

type countingHandler struct {
	ingest.Handler
	sum *replaySummary
}

func (h *countingHandler) DeadLetter(ctx context.Context, dl *record.DeadLetter) error {
	h.sum.refused++
	return h.Handler.DeadLetter(ctx, dl)
}
