// Package pipeline is the glue every record passes through, whatever its
// source: normalised record → policy decision → decision log → alerts. The
// HTTP API, file and stream sources, replays and the fixture tests all call
// the same Decide, so what CI proves is what production runs.
package pipeline

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/feature"
	"github.com/vigil-risk/vigil/runner/ingest"
	"github.com/vigil-risk/vigil/runner/policy"
	"github.com/vigil-risk/vigil/runner/record"
)

// AlertSink raises or updates alerts from a decision (alert.Service).
type AlertSink interface {
	Observe(ctx context.Context, rec record.Record, d decision.Decision) ([]alert.Alert, error)
}

// BatchAlertSink is an AlertSink that can also store the alerts of several
// decisions in one transaction (alert.Service): Run then commits once for
// the decisions that are ready together rather than once per decision.
type BatchAlertSink interface {
	AlertSink
	ObserveBatch(ctx context.Context, batch []alert.Observed) error
}

// maxBatch bounds the jobs Run's collector finishes together.
const maxBatch = 64

// LabelType is the record type of ground-truth labels: they feed the
// features (a terminal's confirmed frauds, ...) and are never judged.
const LabelType = "label"

// Options wire a pipeline to its surroundings; only the engine is required.
type Options struct {
	Env           string              // input.context.env
	RunnerVersion string              // stamped on every decision
	Record        record.Options      // renames, defaults, unknown-field policy from the config
	Features      *feature.Engine     // stateful features; nil: input.features stays empty
	LogFeatures   bool                // keep features and scores on each decision (the decision log shows them)
	Workers       int                 // evaluations in parallel in Run; 0: GOMAXPROCS
	Alerts        AlertSink           // nil: no alerts (e.g. a dry replay)
	OnAlerts      func([]alert.Alert) // sees the alerts each decision raised or updated
	Decisions     DecisionWriter      // nil: no decision log
	DeadLetters   DeadLetterWriter
	Metrics       *Metrics // nil: no metrics
	Log           *slog.Logger
}

// Pipeline decides records. It is safe for concurrent use; the policy, the
// record schema and the feature specs it uses are swapped together on reload,
// while the feature state lives on.
type Pipeline struct {
	engine *policy.Engine
	opts   Options
	log    *slog.Logger
	snap   atomic.Pointer[snapshot]

	contexts sync.Map // source name → map[string]any, the constant input.context
}

// snapshot pairs a policy with the normaliser built from its schema, so a
// record is always normalised by the schema of the policy that judges it.
type snapshot struct {
	policy *policy.Policy
	norm   *record.Normalizer
}

// New builds a pipeline over the engine's current policy and follows its reloads.
func New(engine *policy.Engine, opts Options) (*Pipeline, error) {
	p := &Pipeline{engine: engine, opts: opts, log: opts.Log}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	s, err := p.build(engine.Current())
	if err != nil {
		return nil, err
	}
	p.snap.Store(s)
	engine.OnSwap(func(_, next *policy.Policy) {
		s, err := p.build(next)
		if err != nil {
			// The engine validated the schema before swapping, so this is
			// only reachable through a bad record option: keep the old pair.
			p.log.Error("policy swapped but its schema cannot be used; still normalising with the previous one", "err", err)
			return
		}
		if p.opts.Features != nil {
			p.opts.Features.Reconfigure(next.Features)
		}
		p.snap.Store(s)
	})
	return p, nil
}

func (p *Pipeline) build(pol *policy.Policy) (*snapshot, error) {
	if pol.Schema == nil {
		return nil, fmt.Errorf("policy bundle %s has no schema.yaml", pol.Path)
	}
	norm, err := record.NewNormalizer(pol.Schema, p.opts.Record)
	if err != nil {
		return nil, fmt.Errorf("record options against %s: %w", pol.Schema.File, err)
	}
	return &snapshot{policy: pol, norm: norm}, nil
}

// Normalizer returns the normaliser of the current policy's schema.
func (p *Pipeline) Normalizer() *record.Normalizer { return p.snap.Load().norm }

// Policy returns the policy currently deciding.
func (p *Pipeline) Policy() *policy.Policy { return p.snap.Load().policy }

// EvalError is a record the policy could not evaluate; the stream goes on.
type EvalError struct{ Err error }

func (e *EvalError) Error() string { return "policy evaluation: " + e.Err.Error() }
func (e *EvalError) Unwrap() error { return e.Err }

// Decide runs one normalised record through features, scores and the policy,
// logs the decision and raises alerts. An *EvalError means the policy failed
// on this record; any other error is a failure of the alert store. A label
// record updates the features and gets an empty allow decision, unlogged.
func (p *Pipeline) Decide(ctx context.Context, rec record.Record, source string) (decision.Decision, error) {
	return p.DecideWithContext(ctx, rec, source, p.context(source))
}

// DecideWithContext is Decide with an explicit input.context (fixtures set
// their own); inCtx must not be changed afterwards.
func (p *Pipeline) DecideWithContext(ctx context.Context, rec record.Record, source string, inCtx map[string]any) (decision.Decision, error) {
	j := p.prepare(rec, source, inCtx)
	p.evaluate(ctx, j)
	return j.d, p.finish(ctx, j)
}

// job is one record on its way through the stages.
type job struct {
	seq    uint64
	rec    record.Record
	pos    record.Position
	source string
	pol    *policy.Policy
	in     policy.Input
	label  bool
	d      decision.Decision
	err    error
	done   chan struct{} // closed once evaluated, in parallel mode
}

// prepare is the ordered stage: features (which must see each entity's
// records in order) and scores.
func (p *Pipeline) prepare(rec record.Record, source string, inCtx map[string]any) *job {
	s := p.snap.Load()
	j := &job{rec: rec, source: source, pol: s.policy, label: rec.Type == LabelType}
	j.in = policy.Input{Record: rec.Fields, Context: inCtx}
	if p.opts.Features != nil {
		j.in.Features, _ = p.opts.Features.Apply(rec) // late and duplicate records are counted by the engine
	}
	if !j.label && s.policy.Models != nil {
		j.in.Scores = s.policy.Models.Score(rec.Fields, rec.Time, j.in.Features)
	}
	return j
}

// evaluate is the stage that may run in parallel: the policy's evaluation.
func (p *Pipeline) evaluate(ctx context.Context, j *job) {
	if j.label {
		j.d = decision.Decision{RecordID: j.rec.ID, RecordType: j.rec.Type, Time: j.rec.Time, Action: decision.Allow, PolicyRevision: j.pol.Revision}
		return
	}
	j.d, j.err = j.pol.Decide(ctx, &j.in)
}

// finish is the ordered stage after evaluation: stamps, metrics, the
// decision log and alerts.
func (p *Pipeline) finish(ctx context.Context, j *job) error {
	if err := p.logDecision(j); err != nil || !p.alerting(j) {
		return err
	}
	touched, err := p.opts.Alerts.Observe(ctx, j.rec, seen(j))
	if err != nil {
		return fmt.Errorf("record %s: alerts: %w", j.rec.ID, err)
	}
	p.alerted(touched)
	return nil
}

// logDecision is finish up to the alerts: stamps, metrics and the decision
// log. Its only error is an *EvalError.
func (p *Pipeline) logDecision(j *job) error {
	d := &j.d
	d.RunnerVersion = cmp.Or(p.opts.RunnerVersion, d.RunnerVersion) // else the engine's own
	d.Source = j.source
	if j.err != nil {
		p.opts.Metrics.evalError()
		return &EvalError{Err: j.err}
	}
	if j.label {
		return nil
	}
	if p.opts.LogFeatures {
		d.Features, d.Scores = j.in.Features, j.in.Scores
	}
	p.opts.Metrics.decided(j.source, d)
	if p.opts.Decisions != nil {
		if err := p.opts.Decisions.WriteDecision(d); err != nil {
			p.log.Error("decision log write failed", "err", err)
		}
	}
	return nil
}

// alerting reports whether an evaluated job has hits for the alert sink.
func (p *Pipeline) alerting(j *job) bool {
	return p.opts.Alerts != nil && j.err == nil && !j.label && len(j.d.Hits) > 0
}

// seen is the decision an alert keeps: with the features and scores the
// decision saw, logged or not, since analysts judge a hit by them.
func seen(j *job) decision.Decision {
	d := j.d
	d.Features, d.Scores = j.in.Features, j.in.Scores
	return d
}

// alerted counts and hands on the alerts one decision touched.
func (p *Pipeline) alerted(touched []alert.Alert) {
	if len(touched) > 0 {
		p.opts.Metrics.alerted(touched)
		if p.opts.OnAlerts != nil {
			p.opts.OnAlerts(touched)
		}
	}
}

// context returns the constant input.context of a source, built once.
func (p *Pipeline) context(source string) map[string]any {
	if c, ok := p.contexts.Load(source); ok {
		return c.(map[string]any)
	}
	c := map[string]any{"env": p.opts.Env, "source": source}
	actual, _ := p.contexts.LoadOrStore(source, c)
	return actual.(map[string]any)
}

// DeadLetter records an unusable record.
func (p *Pipeline) DeadLetter(_ context.Context, dl *record.DeadLetter) error {
	p.opts.Metrics.deadLettered(dl.Source)
	p.log.Warn("record refused", "at", dl.Position.String(), "errors", dl.Errors)
	if p.opts.DeadLetters != nil {
		if err := p.opts.DeadLetters.WriteDeadLetter(dl); err != nil {
			return fmt.Errorf("dead-letter log: %w", err)
		}
	}
	return nil
}

// Run feeds a source through the pipeline until it ends. Features and
// scores are computed in the source's order (per-entity order is what the
// windows need); evaluations run on Options.Workers goroutines; decisions are
// logged, alerted and handed to onDecision in the source's order again, so a
// replay writes the same decision log whatever the parallelism.
//
// A record that was read is always decided, even when ctx ends. A failure of
// the alert store stops the source; the records read after the failing one
// are not finished (replay the source again: the stream is at-least-once).
//
// With several workers and an alert sink that takes batches, the collector
// takes, behind each evaluated record, the records already evaluated too (up
// to maxBatch, never waiting for more) and stores the alerts of those from
// the first to the last with hits in one transaction (see completeWindow).
func (p *Pipeline) Run(ctx context.Context, src ingest.Source, onDecision func(record.Record, *decision.Decision)) error {
	workers := p.opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	h := &handler{p: p, source: src.Name(), inCtx: p.context(src.Name()), onDecision: onDecision}
	if workers == 1 {
		return src.Run(ctx, h)
	}
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	work := make(chan *job, workers*64)
	h.order = make(chan *job, workers*256)

	var wg sync.WaitGroup
	evalCtx := context.WithoutCancel(ctx)
	for range workers {
		wg.Go(func() {
			for j := range work {
				p.evaluate(evalCtx, j)
				close(j.done)
			}
		})
	}
	h.work = work
	h.batcher, _ = p.opts.Alerts.(BatchAlertSink)
	var finishErr error
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		window := make([]*job, 0, maxBatch)
		var next *job // taken from the queue but not evaluated yet
		for {
			j := next
			next = nil
			if j == nil {
				var ok bool
				if j, ok = <-h.order; !ok {
					break
				}
			}
			<-j.done
			if finishErr != nil {
				continue // drain: the source is stopping
			}
			window = append(window[:0], j)
			if h.batcher != nil {
				window, next = takeEvaluated(h.order, window)
			}
			if err := h.completeWindow(evalCtx, window); err != nil {
				finishErr = err
				stopReading()
			}
			clear(window)
		}
	}()
	err := src.Run(readCtx, h)
	close(work)
	close(h.order)
	wg.Wait()
	<-collected
	if finishErr != nil {
		return finishErr
	}
	return err
}

type handler struct {
	p          *Pipeline
	source     string
	inCtx      map[string]any
	onDecision func(record.Record, *decision.Decision)
	order      chan *job // parallel mode: jobs in source order, for the collector
	work       chan *job // parallel mode: jobs for the evaluators

	// Parallel mode with a BatchAlertSink: the collector's batches.
	batcher BatchAlertSink
	obs     []alert.Observed // reused from batch to batch
}

func (h *handler) Record(ctx context.Context, rec record.Record, pos record.Position) error {
	j := h.p.prepare(rec, h.source, h.inCtx)
	j.pos = pos
	if h.order == nil {
		// A record that was read is decided even when the source is being
		// stopped: cancellation ends reading, never a decision half made.
		wctx := context.WithoutCancel(ctx)
		h.p.evaluate(wctx, j)
		return h.complete(wctx, j)
	}
	j.done = make(chan struct{})
	// Enqueue without waiting on ctx: the job is already prepared (its
	// features applied), so it must be decided.
	h.order <- j
	h.work <- j
	return nil
}

// complete finishes a job in order: an evaluation error becomes a dead
// letter and the stream goes on; a store failure stops it.
func (h *handler) complete(ctx context.Context, j *job) error {
	err := h.p.finish(ctx, j)
	var evalErr *EvalError
	if errors.As(err, &evalErr) {
		return h.deadLetter(ctx, j, evalErr)
	}
	if err != nil {
		return err
	}
	if h.onDecision != nil && !j.label {
		h.onDecision(j.rec, &j.d)
	}
	return nil
}

// deadLetter keeps a record the rules could not judge: one such record must
// not stop the stream. Its normalised fields are kept, so that it can be
// replayed once the rule is fixed.
func (h *handler) deadLetter(ctx context.Context, j *job, evalErr *EvalError) error {
	raw, _ := json.Marshal(j.rec.Fields)
	return h.p.DeadLetter(ctx, &record.DeadLetter{Position: j.pos, Errors: []record.FieldError{{Reason: evalErr.Error()}}, Raw: rawText(raw)})
}

// takeEvaluated appends to w the jobs queued behind it that are already
// evaluated, without waiting for any (a batch must not add latency): up to
// maxBatch, until the queue is empty or its head is still being evaluated,
// which it returns to be collected next.
func takeEvaluated(order <-chan *job, w []*job) ([]*job, *job) {
	for len(w) < maxBatch {
		select {
		case j, ok := <-order:
			if !ok {
				return w, nil
			}
			select {
			case <-j.done:
				w = append(w, j)
			default:
				return w, j
			}
		default:
			return w, nil
		}
	}
	return w, nil
}

// completeWindow completes evaluated jobs in order, as complete would one by
// one, except that the alerts of the jobs from the first to the last with
// hits are stored in one transaction (completeBatch). The jobs around that
// batch are completed one by one, so that a store failure leaves no more
// records decided but unacknowledged than it must.
func (h *handler) completeWindow(ctx context.Context, w []*job) error {
	first, last := -1, -1
	for i, j := range w {
		if h.p.alerting(j) {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first == last { // at most one transaction: nothing to share
		first, last = len(w), len(w)-1
	}
	for _, j := range w[:first] {
		if err := h.complete(ctx, j); err != nil {
			return err
		}
	}
	if first <= last {
		if err := h.completeBatch(ctx, w[first:last+1]); err != nil {
			return err
		}
		for _, j := range w[last+1:] {
			if err := h.complete(ctx, j); err != nil {
				return err
			}
		}
	}
	return nil
}

// completeBatch completes jobs in order with one transaction for all their
// alerts: per job the stamps, metrics and decision log (or dead letter);
// then the alerts; then per job its alerts' metrics and OnAlerts, and
// onDecision. If the transaction fails, no job of the batch is handed to
// onDecision (at least once: the stream resumes at the batch's first
// record, which the error names).
func (h *handler) completeBatch(ctx context.Context, batch []*job) error {
	obs := h.obs[:0]
	var stop error
	for i, j := range batch {
		err := h.p.logDecision(j)
		var evalErr *EvalError
		if errors.As(err, &evalErr) {
			if err := h.deadLetter(ctx, j, evalErr); err != nil {
				// The jobs before it are completed, as one by one; the
				// stream stops at this one.
				batch, stop = batch[:i], err
				break
			}
			continue
		}
		if h.p.alerting(j) {
			obs = append(obs, alert.Observed{Record: j.rec, Decision: seen(j)})
		}
	}
	h.obs = obs
	defer clear(obs) // keep no record alive until the next batch
	if len(obs) > 0 {
		if err := h.batcher.ObserveBatch(ctx, obs); err != nil {
			return fmt.Errorf("record %s: alerts: %w", batch[0].rec.ID, err)
		}
	}
	k := 0
	for _, j := range batch {
		if j.err != nil {
			continue // dead-lettered
		}
		if h.p.alerting(j) {
			h.p.alerted(obs[k].Alerts)
			k++
		}
		if h.onDecision != nil && !j.label {
			h.onDecision(j.rec, &j.d)
		}
	}
	return stop
}

func (h *handler) DeadLetter(ctx context.Context, dl *record.DeadLetter) error {
	return h.p.DeadLetter(ctx, dl)
}

var _ ingest.Handler = (*handler)(nil)

// rawText bounds a dead letter's copy of its record as the record stage
// does: at most record.MaxRawBytes, cut on a UTF-8 character boundary.
func rawText(b []byte) string {
	if len(b) > record.MaxRawBytes {
		cut := record.MaxRawBytes
		for cut > 0 && !utf8.RuneStart(b[cut]) {
			cut--
		}
		b = b[:cut]
	}
	return string(b)
}
