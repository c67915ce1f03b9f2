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
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/ingest"
	"github.com/vigil-risk/vigil/runner/policy"
	"github.com/vigil-risk/vigil/runner/record"
)

// AlertSink raises or updates alerts from a decision (alert.Service).
type AlertSink interface {
	Observe(ctx context.Context, rec record.Record, d decision.Decision) ([]alert.Alert, error)
}

// Options wire a pipeline to its surroundings; only the engine is required.
type Options struct {
	Env           string              // input.context.env
	RunnerVersion string              // stamped on every decision
	Record        record.Options      // renames, defaults, unknown-field policy from the config
	Alerts        AlertSink           // nil: no alerts (e.g. a dry replay)
	OnAlerts      func([]alert.Alert) // sees the alerts each decision raised or updated
	Decisions     DecisionWriter      // nil: no decision log
	DeadLetters   DeadLetterWriter
	Metrics       *Metrics // nil: no metrics
	Log           *slog.Logger
}

// Pipeline decides records. It is safe for concurrent use; the policy and
// the record schema it uses are swapped together on reload.
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

// Decide runs one normalised record through the policy, logs the decision and
// raises alerts. An *EvalError means the policy failed on this record; any
// other error is a failure of the alert store.
func (p *Pipeline) Decide(ctx context.Context, rec record.Record, source string) (decision.Decision, error) {
	return p.DecideWithContext(ctx, rec, source, p.context(source))
}

// DecideWithContext is Decide with an explicit input.context (fixtures set
// their own); inCtx must not be changed afterwards.
func (p *Pipeline) DecideWithContext(ctx context.Context, rec record.Record, source string, inCtx map[string]any) (decision.Decision, error) {
	s := p.snap.Load()
	in := policy.Input{Record: rec.Fields, Context: inCtx}
	d, err := s.policy.Decide(ctx, &in)
	if err != nil {
		p.opts.Metrics.evalError()
		return d, &EvalError{Err: err}
	}
	d.RunnerVersion = cmp.Or(p.opts.RunnerVersion, d.RunnerVersion) // else the engine's own
	d.Source = source
	p.opts.Metrics.decided(source, &d)
	if p.opts.Decisions != nil {
		if err := p.opts.Decisions.WriteDecision(&d); err != nil {
			p.log.Error("decision log write failed", "err", err)
		}
	}
	if p.opts.Alerts != nil && len(d.Hits) > 0 {
		touched, err := p.opts.Alerts.Observe(ctx, rec, d)
		if err != nil {
			return d, fmt.Errorf("record %s: alerts: %w", rec.ID, err)
		}
		if len(touched) > 0 {
			p.opts.Metrics.alerted(touched)
			if p.opts.OnAlerts != nil {
				p.opts.OnAlerts(touched)
			}
		}
	}
	return d, nil
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

// Run feeds a source through the pipeline until it ends. OnDecision, when
// set, sees every decision in order (replay prints them from here).
func (p *Pipeline) Run(ctx context.Context, src ingest.Source, onDecision func(record.Record, *decision.Decision)) error {
	return src.Run(ctx, &handler{p: p, source: src.Name(), onDecision: onDecision})
}

type handler struct {
	p          *Pipeline
	source     string
	onDecision func(record.Record, *decision.Decision)
}

func (h *handler) Record(ctx context.Context, rec record.Record, pos record.Position) error {
	// A record that was read is decided even when the source is being
	// stopped: cancellation ends reading, never a decision half made.
	d, err := h.p.Decide(context.WithoutCancel(ctx), rec, h.source)
	var evalErr *EvalError
	if errors.As(err, &evalErr) {
		// One record the rules cannot judge must not stop the stream. Its
		// normalised fields are kept, so that it can be replayed once the
		// rule is fixed.
		raw, _ := json.Marshal(rec.Fields)
		return h.p.DeadLetter(ctx, &record.DeadLetter{Position: pos, Errors: []record.FieldError{{Reason: evalErr.Error()}}, Raw: rawText(raw)})
	}
	if err != nil {
		return err
	}
	if h.onDecision != nil {
		h.onDecision(rec, &d)
	}
	return nil
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
