// Package bench measures the per-record path on this machine: JSON decode
// alone, stock embedded OPA evaluating the shipped bundle, and Vigil's full
// pipeline (decode → normalise → evaluate → decision log → alerts), on the
// same synthetic records. `vigil bench` and `make bench` print its table.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/ingest"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/policy"
	"github.com/vigil-risk/vigil/runner/record"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// Options say what to measure.
type Options struct {
	Policies  string // bundle directory
	Records   int    // records per run
	Runs      int    // runs per workload; the median is reported
	FraudRate float64
	Seed      int64
}

// Result is one workload's median run and the spread over all runs.
type Result struct {
	Name         string
	Records      int
	Median       time.Duration // of the whole run
	Min, Max     time.Duration
	AllocsPerRec float64
	BytesPerRec  float64
}

func (r Result) PerSecond() float64 { return float64(r.Records) / r.Median.Seconds() }
func (r Result) MicrosPerRecord() float64 {
	return float64(r.Median.Microseconds()) / float64(r.Records)
}

// Records makes n deterministic demo records as JSONL, with event times
// 50 ms apart from a fixed start.
func Records(n int, seed int64, fraudRate float64) []byte {
	gen := ingest.NewGenerator(seed, fraudRate)
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range n {
		_ = enc.Encode(gen.Next(start.Add(time.Duration(i) * 50 * time.Millisecond)))
	}
	return buf.Bytes()
}

// Run measures every workload, interleaving the runs so that noise from
// the rest of the machine spreads over all of them.
func Run(ctx context.Context, o Options) ([]Result, error) {
	if o.Records <= 0 {
		o.Records = 20000
	}
	if o.Runs <= 0 {
		o.Runs = 5
	}
	data := Records(o.Records, o.Seed, o.FraudRate)
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))

	stock, err := newStock(ctx, o.Policies, lines)
	if err != nil {
		return nil, err
	}
	full, err := newFull(ctx, o.Policies)
	if err != nil {
		return nil, err
	}
	defer full.close()

	workloads := []struct {
		name string
		run  func() error
	}{
		{"(a) JSON decode to map (encoding/json)", func() error { return decodeOnly(lines) }},
		{"(a2) decode + validate + normalise (record)", func() error { return full.normaliseOnly(data) }},
		{"(b) stock OPA eval, EvalInput(map), prepared", func() error { return stock.run(ctx) }},
		{"(c) Vigil pipeline: decode → eval → log → alerts", func() error { return full.run(ctx, data) }},
	}
	times := make([][]time.Duration, len(workloads))
	allocs := make([]uint64, len(workloads))
	bytesAlloc := make([]uint64, len(workloads))
	for run := 0; run < o.Runs; run++ {
		for i, w := range workloads {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			if err := w.run(); err != nil {
				return nil, fmt.Errorf("%s: %w", w.name, err)
			}
			times[i] = append(times[i], time.Since(start))
			runtime.ReadMemStats(&after)
			allocs[i] += after.Mallocs - before.Mallocs
			bytesAlloc[i] += after.TotalAlloc - before.TotalAlloc
		}
	}
	out := make([]Result, len(workloads))
	for i, w := range workloads {
		slices.Sort(times[i])
		n := float64(o.Records * o.Runs)
		out[i] = Result{Name: w.name, Records: o.Records, Median: times[i][len(times[i])/2],
			Min: times[i][0], Max: times[i][len(times[i])-1],
			AllocsPerRec: float64(allocs[i]) / n, BytesPerRec: float64(bytesAlloc[i]) / n}
	}
	return out, nil
}

// WriteTable prints the results, one row per workload.
func WriteTable(w io.Writer, results []Result, o Options) {
	fmt.Fprintf(w, "%d records × %d runs, GOMAXPROCS=%d, one goroutine; median and [min–max] over the runs\n\n", results[0].Records, max(o.Runs, 1), runtime.GOMAXPROCS(0))
	const row = "%-50s %10s %10s %14s %8s %9s\n"
	fmt.Fprintf(w, row, "workload", "records/s", "µs/record", "[min–max] µs", "allocs", "B/record")
	for _, r := range results {
		spread := fmt.Sprintf("[%.1f–%.1f]", float64(r.Min.Microseconds())/float64(r.Records), float64(r.Max.Microseconds())/float64(r.Records))
		fmt.Fprintf(w, row, r.Name, fmt.Sprintf("%.0f", r.PerSecond()), fmt.Sprintf("%.1f", r.MicrosPerRecord()), spread,
			fmt.Sprintf("%.0f", r.AllocsPerRec), fmt.Sprintf("%.0f", r.BytesPerRec))
	}
}

func decodeOnly(lines [][]byte) error {
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			return err
		}
	}
	return nil
}

// stock is OPA embedded the obvious way: a prepared query over the bundle,
// each record decoded to a map and passed with EvalInput.
type stock struct {
	query  rego.PreparedEvalQuery
	inputs []map[string]any
}

func newStock(ctx context.Context, dir string, lines [][]byte) (*stock, error) {
	q, err := rego.New(
		rego.Query("hits := {name: h | some name; h := data.risk.rules[name].hit}"),
		rego.LoadBundle(dir),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("stock OPA: %w", err)
	}
	s := &stock{query: q}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			return nil, err
		}
		s.inputs = append(s.inputs, map[string]any{"record": m, "features": map[string]any{}, "scores": map[string]any{}, "context": map[string]any{"env": "bench", "source": "bench"}})
	}
	return s, nil
}

func (s *stock) run(ctx context.Context) error {
	for _, in := range s.inputs {
		if _, err := s.query.Eval(ctx, rego.EvalInput(in)); err != nil {
			return err
		}
	}
	return nil
}

// full is Vigil's pipeline with a decision log (to io.Discard) and alerts in
// a SQLite file.
type full struct {
	pipe *pipeline.Pipeline
	dir  string
	db   interface{ Close() error }
}

func newFull(ctx context.Context, policies string) (*full, error) {
	dir, err := os.MkdirTemp("", "vigil-bench-")
	if err != nil {
		return nil, err
	}
	f := &full{dir: dir}
	log := slog.New(slog.DiscardHandler)
	engine, err := policy.NewEngine(ctx, policies, log)
	if err != nil {
		f.close()
		return nil, err
	}
	db, err := sqldb.Open(ctx, filepath.Join(dir, "bench.db"))
	if err != nil {
		f.close()
		return nil, err
	}
	f.db = db
	store, err := alertsqlite.New(ctx, db)
	if err != nil {
		f.close()
		return nil, err
	}
	alerts, err := alert.NewService(store, alert.Options{MinSeverity: decision.Medium})
	if err != nil {
		f.close()
		return nil, err
	}
	f.pipe, err = pipeline.New(engine, pipeline.Options{
		Env: "bench", RunnerVersion: "bench", Alerts: alerts, Log: log,
		Decisions: pipeline.DecisionLog{JSONL: pipeline.NewJSONL(io.Discard, nil)},
	})
	if err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

func (f *full) run(ctx context.Context, data []byte) error {
	return f.pipe.Run(ctx, &ingest.Reader{SourceName: "bench", R: bytes.NewReader(data), Format: record.FormatJSONL, Normalizer: f.pipe.Normalizer}, nil)
}

func (f *full) normaliseOnly(data []byte) error {
	r := record.NewReader(bytes.NewReader(data), record.FormatJSONL, "bench", f.pipe.Normalizer())
	for {
		_, dl, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if dl != nil {
			return dl
		}
	}
}

func (f *full) close() {
	if f.db != nil {
		f.db.Close()
	}
	os.RemoveAll(f.dir)
}
