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
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/feature"
	"github.com/vigil-risk/vigil/runner/ingest"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/policy"
	"github.com/vigil-risk/vigil/runner/record"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// hitsQuery is the query of every rule at once, as the policy's own.
const hitsQuery = "hits := {name: h | some name; h := data.risk.rules[name].hit}"

// env is what the workloads share: the records, the inputs the rules see,
// the decisions plain OPA makes on them, and the engines.
type env struct {
	o      Options
	dir    string
	lines  [][]byte        // the records, one JSON object each
	data   []byte          // the same as JSONL
	ids    map[string]int  // record id → index
	fast   *policy.Policy  // the bundle, with its fast path
	inputs []*policy.Input // what the rules see, features and scores computed
	docs   [][]byte        // the same as JSON input documents
	want   [][]string      // rules that fired per record, by DecideOPA
	stock  rego.PreparedEvalQuery
	side   *sidecar
	noSide string
}

func newEnv(ctx context.Context, o Options) (*env, error) {
	e := &env{o: o}
	var err error
	if e.dir, err = os.MkdirTemp("", "vigil-bench-"); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			e.close()
		}
	}()
	e.data = Records(o.Records, o.Seed, o.FraudRate)
	e.lines = bytes.Split(bytes.TrimSpace(e.data), []byte("\n"))
	if e.fast, err = policy.Load(ctx, o.Policies); err != nil {
		return nil, err
	}
	if e.inputs, err = Inputs(ctx, e.fast, e.data, "bench", "bench"); err != nil {
		return nil, err
	}
	e.ids = make(map[string]int, len(e.inputs))
	e.docs = make([][]byte, len(e.inputs))
	e.want = make([][]string, len(e.inputs))
	for i, in := range e.inputs {
		e.ids[recordID(in)] = i
		if e.docs[i], err = json.Marshal(map[string]any{"record": in.Record, "features": in.Features, "scores": in.Scores, "context": in.Context}); err != nil {
			return nil, err
		}
	}
	o.Log.Info("bench", "step", "plain OPA decisions, for the comparison")
	err = parallel(len(e.inputs), o.Workers, func(i int) error {
		d, err := e.fast.DecideOPA(ctx, e.inputs[i])
		e.want[i] = fired(&d)
		return err
	})
	if err != nil {
		return nil, err
	}
	if e.stock, err = rego.New(rego.Query(hitsQuery), rego.LoadBundle(o.Policies)).PrepareForEval(ctx); err != nil {
		return nil, fmt.Errorf("stock OPA: %w", err)
	}
	switch bin, why := findOPA(o.OPA); {
	case bin == "":
		e.noSide = why
	default:
		o.Log.Info("bench", "step", "starting the OPA sidecar", "opa", bin)
		if e.side, err = startSidecar(ctx, bin, o.Policies, filepath.Join(e.dir, "sidecar"), o.Clients); err != nil {
			return nil, err
		}
	}
	ok = true
	return e, nil
}

func (e *env) close() {
	if e.side != nil {
		e.side.close()
	}
	os.RemoveAll(e.dir)
}

func recordID(in *policy.Input) string {
	id, _ := in.Record["id"].(string)
	return id
}

// fired lists the rules of a decision, enforced and shadow, sorted.
func fired(d *decision.Decision) []string {
	var out []string
	for _, h := range d.Hits {
		out = append(out, h.Rule)
	}
	for _, h := range d.ShadowHits {
		out = append(out, h.Rule)
	}
	slices.Sort(out)
	return out
}

// workload is one way of deciding every record once.
type workload struct {
	key, name string
	skip      string // why it is left out
	// prepare runs before each measured run (a fresh pipeline: feature
	// state, alert store).
	prepare func(ctx context.Context) error
	// run decides every record once, writing each record's latency into
	// lat; with check it counts records whose rules differ from plain
	// OPA's (checked false when it cannot tell).
	run func(ctx context.Context, lat []time.Duration, check bool) (mismatches int, checked bool, err error)
	// outside is CPU the workload spent in other processes (the sidecar).
	outside func() time.Duration
}

func (e *env) workloads() []*workload {
	w := e.o.Workers
	return []*workload{
		{key: "floor", name: "(a) floor: JSON decode to a map, 1 goroutine", run: e.decode},
		{key: "opa-1", name: "(b1) embedded OPA, stock: decode + EvalInput(map), 1 goroutine", run: e.stockRun(1)},
		{key: "opa", name: fmt.Sprintf("(b) embedded OPA, stock: decode + EvalInput(map), %d goroutines", w), run: e.stockRun(w)},
		e.sidecarWorkload(),
		{key: "decide", name: fmt.Sprintf("(d) Vigil Policy.Decide, same inputs, %d goroutines", w), run: e.decideRun(w)},
		e.pipelineWorkload("pipeline-opa", "(e0) Vigil pipeline end to end, fast path off", policy.WithoutFastPath()),
		e.pipelineWorkload("pipeline", "(e) Vigil pipeline end to end: decode → features → eval → log → alerts"),
	}
}

// measure runs a workload once and takes its time, CPU and allocations.
func measure(ctx context.Context, w *workload, records int, check bool) (sample, error) {
	if w.prepare != nil {
		if err := w.prepare(ctx); err != nil {
			return sample{}, err
		}
	}
	lat := make([]time.Duration, records)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var outside time.Duration
	if w.outside != nil {
		outside = w.outside()
	}
	cpu0 := cpuTime()
	start := time.Now()
	mismatches, checked, err := w.run(ctx, lat, check)
	wall := time.Since(start)
	cpu := cpuTime() - cpu0
	if w.outside != nil {
		cpu += w.outside() - outside
	}
	runtime.ReadMemStats(&after)
	if err != nil {
		return sample{}, err
	}
	return sample{wall: wall, cpu: cpu, allocs: after.Mallocs - before.Mallocs, bytes: after.TotalAlloc - before.TotalAlloc,
		lat: lat, mismatches: mismatches, mismatchChecked: checked}, nil
}

// parallel calls f for 0..n-1 on workers goroutines.
func parallel(n, workers int, f func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

func (e *env) decode(_ context.Context, lat []time.Duration, _ bool) (int, bool, error) {
	for i, l := range e.lines {
		start := time.Now()
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			return 0, false, err
		}
		lat[i] = time.Since(start)
	}
	return 0, false, nil
}

// stockRun is OPA embedded the obvious way: a prepared query of every rule,
// each input document decoded to a map and passed with EvalInput.
func (e *env) stockRun(workers int) func(context.Context, []time.Duration, bool) (int, bool, error) {
	return func(ctx context.Context, lat []time.Duration, check bool) (int, bool, error) {
		var mismatches atomic.Int64
		err := parallel(len(e.docs), workers, func(i int) error {
			start := time.Now()
			var in map[string]any
			if err := json.Unmarshal(e.docs[i], &in); err != nil {
				return err
			}
			rs, err := e.stock.Eval(ctx, rego.EvalInput(in))
			lat[i] = time.Since(start)
			if err != nil {
				return err
			}
			if check {
				var got []string
				if len(rs) == 1 {
					hits, _ := rs[0].Bindings["hits"].(map[string]any)
					for name := range hits {
						got = append(got, name)
					}
				}
				if !sameRules(got, e.want[i]) {
					mismatches.Add(1)
				}
			}
			return nil
		})
		return int(mismatches.Load()), check, err
	}
}

func (e *env) decideRun(workers int) func(context.Context, []time.Duration, bool) (int, bool, error) {
	return func(ctx context.Context, lat []time.Duration, check bool) (int, bool, error) {
		var mismatches atomic.Int64
		err := parallel(len(e.inputs), workers, func(i int) error {
			start := time.Now()
			d, err := e.fast.Decide(ctx, e.inputs[i])
			lat[i] = time.Since(start)
			if check && !sameRules(fired(&d), e.want[i]) {
				mismatches.Add(1)
			}
			return err
		})
		return int(mismatches.Load()), check, err
	}
}

func (e *env) sidecarWorkload() *workload {
	w := &workload{key: "sidecar", name: fmt.Sprintf("(c) OPA sidecar: opa run --server, %d keep-alive clients", e.o.Clients), skip: e.noSide}
	if e.side == nil {
		return w
	}
	w.outside = e.side.cpu
	w.run = func(ctx context.Context, lat []time.Duration, check bool) (int, bool, error) {
		var mismatches atomic.Int64
		err := parallel(len(e.docs), e.o.Clients, func(i int) error {
			start := time.Now()
			got, err := e.side.decide(ctx, e.docs[i])
			lat[i] = time.Since(start)
			if err != nil {
				return err
			}
			if check && !sameRules(got, e.want[i]) {
				mismatches.Add(1)
			}
			return nil
		})
		return int(mismatches.Load()), check, err
	}
	return w
}

func sameRules(got, want []string) bool {
	slices.Sort(got)
	return slices.Equal(got, want)
}

// pipelineWorkload is Vigil's pipeline over the JSONL records, as `vigil
// replay` runs it: decision log (to nowhere) and alerts in SQLite, a fresh
// feature state and store for every run.
func (e *env) pipelineWorkload(key, name string, opts ...policy.Option) *workload {
	var engine *policy.Engine
	var pipe *pipeline.Pipeline
	var db interface{ Close() error }
	run := 0
	w := &workload{key: key, name: name}
	w.prepare = func(ctx context.Context) error {
		if db != nil {
			db.Close()
		}
		run++
		var err error
		if engine == nil {
			if engine, err = policy.NewEngine(ctx, e.o.Policies, nil, opts...); err != nil {
				return err
			}
		}
		pipe, db, err = e.newPipeline(ctx, engine, filepath.Join(e.dir, fmt.Sprintf("%s-%d.db", key, run)))
		return err
	}
	w.run = func(ctx context.Context, lat []time.Duration, check bool) (int, bool, error) {
		src := &timedSource{data: e.data, norm: pipe.Normalizer, starts: make([]time.Time, len(e.lines))}
		mismatches := 0
		err := pipe.Run(ctx, src, func(rec record.Record, d *decision.Decision) {
			i, ok := e.ids[rec.ID]
			if !ok {
				return
			}
			lat[i] = time.Since(src.starts[i])
			if check && !sameRules(fired(d), e.want[i]) {
				mismatches++
			}
		})
		return mismatches, check, err
	}
	return w
}

// newPipeline builds the pipeline `vigil run` builds, around the engine: features,
// scores, a decision log to nowhere and alerts in a SQLite file.
func (e *env) newPipeline(ctx context.Context, engine *policy.Engine, dbPath string) (*pipeline.Pipeline, interface{ Close() error }, error) {
	log := slog.New(slog.DiscardHandler)
	pol := engine.Current()
	db, err := sqldb.Open(ctx, dbPath)
	if err != nil {
		return nil, nil, err
	}
	store, err := alertsqlite.New(ctx, db)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	alerts, err := alert.NewService(store, alert.Options{MinSeverity: decision.Medium})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	var fe *feature.Engine
	if pol.Features != nil {
		if fe, err = feature.NewEngine(pol.Features, nil, feature.Options{}); err != nil {
			db.Close()
			return nil, nil, err
		}
	}
	pipe, err := pipeline.New(engine, pipeline.Options{
		Env: "bench", RunnerVersion: "bench", Features: fe, Alerts: alerts, Log: log, Workers: e.o.Workers,
		Decisions: pipeline.DecisionLog{JSONL: pipeline.NewJSONL(io.Discard, nil)},
	})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return pipe, db, nil
}

// timedSource reads JSONL records as ingest.Reader does and notes when each
// record's reading began: a record's latency runs from there to its
// decision being logged.
type timedSource struct {
	data   []byte
	norm   ingest.NormalizerFunc
	starts []time.Time
}

func (s *timedSource) Name() string { return "bench" }

func (s *timedSource) Run(ctx context.Context, h ingest.Handler) error {
	r := record.NewReader(bytes.NewReader(s.data), record.FormatJSONL, s.Name(), s.norm())
	for i := 0; ; i++ {
		if i < len(s.starts) {
			s.starts[i] = time.Now()
		}
		rec, dl, err := r.Next()
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		case dl != nil:
			return dl
		}
		if err := h.Record(ctx, rec, r.Position()); err != nil {
			return err
		}
	}
}
