// Package bench measures Vigil side by side with OPA on this machine, in
// one process run, on the same deterministic demo records and the same
// bundle: JSON decode alone (the floor), stock embedded OPA and an OPA
// server sidecar evaluating the same rules on the same precomputed
// features, Vigil's Policy.Decide on those inputs, and Vigil's whole
// pipeline (decode → normalise → features → scores → evaluation → decision
// log → alerts) with its fast path off and on. Runs are interleaved and the
// median is reported with the spread. A fixed-rate load against POST
// /v1/decide reports latency percentiles. `vigil bench` and `make
// bench-compare` print its table.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"time"

	"github.com/vigil-risk/vigil/runner/ingest"
)

// Options say what to measure.
type Options struct {
	Policies  string  // bundle directory
	Records   int     // records per run; default 20000
	Runs      int     // runs per workload, interleaved; the median is reported; default 5
	FraudRate float64 // share of demo records with an injected pattern
	Seed      int64
	Workers   int // goroutines of the parallel workloads; 0: GOMAXPROCS

	// OPA is the opa binary run as the sidecar (`opa run --server`): empty
	// looks for opa on PATH, "-" leaves the sidecar out. `make
	// bench-compare` builds it from the OPA module in go.mod.
	OPA     string
	Clients int // keep-alive clients of the sidecar; default 8

	// LoadRate and LoadFor shape the fixed-rate load on POST /v1/decide;
	// defaults 2000 requests/s for 5s; a negative LoadFor leaves it out.
	LoadRate float64
	LoadFor  time.Duration

	Log *slog.Logger // progress notes; nil: none
}

func (o *Options) defaults() {
	if o.Records <= 0 {
		o.Records = 20000
	}
	if o.Runs <= 0 {
		o.Runs = 5
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Clients <= 0 {
		o.Clients = 8
	}
	if o.LoadRate <= 0 {
		o.LoadRate = 2000
	}
	if o.LoadFor == 0 {
		o.LoadFor = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Result is one workload: its median run and the spread over all runs, or
// (Load) the fixed-rate load on /v1/decide.
type Result struct {
	Key     string // stable short name: floor, opa-1, opa, sidecar, decide, pipeline-opa, pipeline, load
	Name    string
	Records int           // per run
	Median  time.Duration // of the whole run
	Min     time.Duration
	Max     time.Duration

	CPUPerRec    time.Duration // process CPU (user+sys, all threads, GC included); the sidecar's own CPU added
	AllocsPerRec float64       // heap allocations in this process
	BytesPerRec  float64
	P50, P99     time.Duration // latency of one record
	P999         time.Duration // Load only

	// Mismatches counts records whose rules that fired differ from Vigil's
	// decision (Policy.Decide) on the same input; -1 when not checked.
	Mismatches int

	// Load only.
	Rate     float64 // asked for, requests/s
	Achieved float64 // requests/s completed
	Errors   int
	Note     string // why a workload was left out
}

// PerSecond is records per second of the median run.
func (r Result) PerSecond() float64 {
	if r.Median <= 0 {
		return 0
	}
	return float64(r.Records) / r.Median.Seconds()
}

// MicrosPerRecord is the median run's wall time per record.
func (r Result) MicrosPerRecord() float64 {
	if r.Records == 0 {
		return 0
	}
	return float64(r.Median.Nanoseconds()) / 1e3 / float64(r.Records)
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
// the rest of the machine spreads over all of them, then the load on
// /v1/decide.
func Run(ctx context.Context, o Options) ([]Result, error) {
	o.defaults()
	env, err := newEnv(ctx, o)
	if err != nil {
		return nil, err
	}
	defer env.close()

	ws := env.workloads()
	samples := make([][]sample, len(ws))
	for run := range o.Runs {
		for i, w := range ws {
			if w.skip != "" {
				continue
			}
			o.Log.Info("bench", "run", run+1, "of", o.Runs, "workload", w.key)
			s, err := measure(ctx, w, o.Records, run == 0)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", w.name, err)
			}
			samples[i] = append(samples[i], s)
		}
	}
	out := make([]Result, 0, len(ws)+1)
	for i, w := range ws {
		out = append(out, summarise(w, samples[i], o.Records))
	}
	if o.LoadFor > 0 {
		o.Log.Info("bench", "load", fmt.Sprintf("%.0f/s for %s", o.LoadRate, o.LoadFor))
		lr, err := env.load(ctx, o.LoadRate, o.LoadFor)
		if err != nil {
			return nil, fmt.Errorf("load on /v1/decide: %w", err)
		}
		out = append(out, lr)
	}
	return out, nil
}

// sample is one run of one workload.
type sample struct {
	wall, cpu       time.Duration
	allocs, bytes   uint64
	lat             []time.Duration
	mismatches      int
	mismatchChecked bool
}

func summarise(w *workload, ss []sample, records int) Result {
	r := Result{Key: w.key, Name: w.name, Records: records, Mismatches: -1, Note: w.skip}
	if len(ss) == 0 {
		return r
	}
	walls := make([]time.Duration, len(ss))
	var cpu time.Duration
	var allocs, bytes uint64
	var lat []time.Duration
	for i, s := range ss {
		walls[i] = s.wall
		cpu += s.cpu
		allocs += s.allocs
		bytes += s.bytes
		lat = append(lat, s.lat...)
		if s.mismatchChecked {
			r.Mismatches = s.mismatches
		}
	}
	slices.Sort(walls)
	n := float64(records * len(ss))
	r.Median, r.Min, r.Max = walls[len(walls)/2], walls[0], walls[len(walls)-1]
	r.CPUPerRec = time.Duration(float64(cpu) / n)
	r.AllocsPerRec, r.BytesPerRec = float64(allocs)/n, float64(bytes)/n
	slices.Sort(lat)
	r.P50, r.P99, r.P999 = percentile(lat, 0.50), percentile(lat, 0.99), percentile(lat, 0.999)
	return r
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)))
	return sorted[min(i, len(sorted)-1)]
}
