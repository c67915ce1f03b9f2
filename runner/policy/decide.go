package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/policy/fastpath"
	"github.com/vigil-risk/vigil/runner/record"
)

// Input is what the rules see as input (DESIGN §3.2).
type Input struct {
	Record   map[string]any // record.Record.Fields: input.record
	Features map[string]any // input.features
	Scores   map[string]float64
	Context  map[string]any
}

// The input document's keys, built once: they are never modified.
var (
	recordKey   = ast.StringTerm("record")
	featuresKey = ast.StringTerm("features")
	scoresKey   = ast.StringTerm("scores")
	contextKey  = ast.StringTerm("context")
	reasonTerm  = ast.StringTerm("reason")
)

// Decide evaluates every rule against one record and folds the hits into a
// decision: hits sorted by rule name, shadow-mode hits kept apart, the
// action and score from the enforced hits. EvalUS is the wall time Decide
// took. An evaluation error names the rule when it can.
//
// Rules go through the fast path (package fastpath: OPA's semantics in Go,
// OPA itself for what it leaves over); the decision is the one plain OPA
// makes (DecideOPA), which WithDifferential checks on every record.
func (p *Policy) Decide(ctx context.Context, in *Input) (decision.Decision, error) {
	start := time.Now()
	d, err := p.decide(ctx, in, p.fast != nil)
	if p.differential && p.fast != nil {
		want, wantErr := p.decide(ctx, in, false)
		if m := mismatch(&d, err, &want, wantErr); m != nil {
			return d, m
		}
	}
	d.EvalUS = time.Since(start).Microseconds()
	return d, err
}

// DecideOPA decides with plain OPA: one query of every rule, the input
// built whole. It is the oracle the fast path is held to.
func (p *Policy) DecideOPA(ctx context.Context, in *Input) (decision.Decision, error) {
	start := time.Now()
	d, err := p.decide(ctx, in, false)
	d.EvalUS = time.Since(start).Microseconds()
	return d, err
}

func (p *Policy) decide(ctx context.Context, in *Input, fast bool) (decision.Decision, error) {
	d := decision.Decision{PolicyRevision: p.Revision, RunnerVersion: p.runnerVersion}
	d.RecordID = text(in.Record[p.idField])
	d.RecordType = text(in.Record[p.typeField])
	if ts, ok := in.Record[p.timeField]; ok && ts != nil {
		d.Time, _ = record.ParseTime(ts) // the record stage has validated it
	}
	if err := ctx.Err(); err != nil {
		return d, err
	}
	var err error
	if fast && finite(in.Scores) {
		err = p.collectFast(ctx, &d, in)
	} else {
		err = p.collectOPA(ctx, &d, in)
	}
	if err != nil {
		return d, err
	}
	d.Action, d.Score = decision.Aggregate(d.Hits)
	return d, nil
}

// collectOPA evaluates the one query of all rules.
func (p *Policy) collectOPA(ctx context.Context, d *decision.Decision, in *Input) error {
	input, err := inputValue(in)
	if err != nil {
		return fmt.Errorf("record %s: %w", d.RecordID, err)
	}
	var opts [4]rego.EvalOption
	n := copy(opts[:], p.evalOpts)
	opts[n] = rego.EvalParsedInput(input)
	rs, err := p.query.Eval(ctx, opts[:n+1]...)
	if err != nil {
		return p.evalError(err)
	}
	if len(rs) == 1 {
		return p.collect(d, rs[0].Bindings["hits"], in.Record)
	}
	return nil
}

// collectFast runs the fast path and asks OPA, rule by rule, about what it
// leaves over; the input is built for OPA only then.
func (p *Policy) collectFast(ctx context.Context, d *decision.Decision, in *Input) error {
	var buf [32]fastpath.Outcome
	out := buf[:0]
	if n := p.fast.prog.Len(); n <= len(buf) {
		out = buf[:n]
	} else {
		out = make([]fastpath.Outcome, n)
	}
	p.fast.prog.Eval(ctx, inputDoc{in}, out)
	var input ast.Value
	for i := range out {
		var v ast.Value
		switch out[i].State {
		case fastpath.NotFired:
			continue
		case fastpath.Fired:
			v = out[i].Value.Value
		case fastpath.NeedsOPA:
			if input == nil {
				var err error
				if input, err = inputValue(in); err != nil {
					return fmt.Errorf("record %s: %w", d.RecordID, err)
				}
			}
			var opts [4]rego.EvalOption
			n := copy(opts[:], p.evalOpts)
			opts[n] = rego.EvalParsedInput(input)
			rs, err := p.fast.queries[i].Eval(ctx, opts[:n+1]...)
			if err != nil {
				return p.evalError(err)
			}
			if len(rs) == 0 {
				continue
			}
			var ok bool
			if v, ok = rs[0].Bindings["hit"].(ast.Value); !ok {
				return fmt.Errorf("rule %s: unexpected result %T", p.Rules[i].Name, rs[0].Bindings["hit"])
			}
		}
		rule := &p.Rules[i]
		h, err := hitOf(rule, v, in.Record)
		if err != nil {
			return err
		}
		if rule.Mode == decision.Shadow {
			d.ShadowHits = append(d.ShadowHits, h)
		} else {
			d.Hits = append(d.Hits, h)
		}
	}
	return nil
}

// collect turns the hits object (rule name → hit) into decision hits, in
// name order (OPA iterates objects by sorted key).
func (p *Policy) collect(d *decision.Decision, hits any, rec map[string]any) error {
	obj, ok := hits.(ast.Object)
	if !ok || obj.Len() == 0 {
		return nil
	}
	var err error
	obj.Foreach(func(k, v *ast.Term) {
		if err != nil {
			return
		}
		name, _ := k.Value.(ast.String)
		rule, ok := p.byName[string(name)]
		if !ok {
			err = fmt.Errorf("data.risk.rules.%s.hit is not a rule: only rule packages may define it", string(name))
			return
		}
		var h decision.Hit
		if h, err = hitOf(rule, v.Value, rec); err != nil {
			return
		}
		if rule.Mode == decision.Shadow {
			d.ShadowHits = append(d.ShadowHits, h)
		} else {
			d.Hits = append(d.Hits, h)
		}
	})
	return err
}

func hitOf(rule *Rule, v ast.Value, rec map[string]any) (decision.Hit, error) {
	h := decision.Hit{Rule: rule.Name, Title: rule.Title, Severity: rule.Severity, Action: rule.Action}
	obj, ok := v.(ast.Object)
	if !ok {
		return h, fmt.Errorf("rule %s (%s:%d): hit must be an object holding a reason, got %v", rule.Name, rule.File, rule.Line, v)
	}
	var reason ast.String
	t := obj.Get(reasonTerm)
	if t != nil {
		reason, ok = t.Value.(ast.String)
	}
	if t == nil || !ok {
		return h, fmt.Errorf("rule %s (%s:%d): hit needs a string \"reason\", got %v", rule.Name, rule.File, rule.Line, v)
	}
	h.Reason = string(reason)
	if n := obj.Len() - 1; n > 0 {
		h.Details = make(map[string]any, n)
		obj.Foreach(func(k, v *ast.Term) {
			if key, ok := k.Value.(ast.String); !ok || key != "reason" {
				h.Details[keyText(k.Value)] = goValue(v.Value)
			}
		})
	}
	if rule.Entity != "" {
		if val := text(rec[rule.Entity]); val != "" {
			h.Entity = &decision.Entity{Field: rule.Entity, Value: val}
		}
	}
	return h, nil
}

// evalError names the rule whose file the error points into.
func (p *Policy) evalError(err error) error {
	var te *topdown.Error
	if errors.As(err, &te) && te.Location != nil {
		if name, ok := p.fileRule[te.Location.File]; ok {
			return fmt.Errorf("rule %s: %w", name, err)
		}
	}
	return fmt.Errorf("policy %s: %w", p.Revision, err)
}

// inputValue builds the input document as an AST value directly, sparing
// OPA the JSON round trip it does for a Go map.
func inputValue(in *Input) (ast.Value, error) {
	rec, err := objectValue(in.Record)
	if err != nil {
		return nil, fmt.Errorf("input.record: %w", err)
	}
	feat, err := objectValue(in.Features)
	if err != nil {
		return nil, fmt.Errorf("input.features: %w", err)
	}
	ctxv, err := objectValue(in.Context)
	if err != nil {
		return nil, fmt.Errorf("input.context: %w", err)
	}
	scores := ast.NewObjectWithCapacity(len(in.Scores))
	for k, x := range in.Scores {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("input.scores.%s: %v is not a finite number", k, x)
		}
		scores.Insert(ast.StringTerm(k), ast.FloatNumberTerm(x))
	}
	return ast.NewObject(
		[2]*ast.Term{recordKey, ast.NewTerm(rec)},
		[2]*ast.Term{featuresKey, ast.NewTerm(feat)},
		[2]*ast.Term{scoresKey, ast.NewTerm(scores)},
		[2]*ast.Term{contextKey, ast.NewTerm(ctxv)},
	), nil
}

func objectValue(m map[string]any) (ast.Value, error) {
	if len(m) == 0 {
		return ast.NewObject(), nil
	}
	return ast.InterfaceToValue(m)
}

// goValue converts a hit detail to the plain Go values records use:
// string, float64, bool, nil, map[string]any and []any.
func goValue(v ast.Value) any {
	switch x := v.(type) {
	case ast.Null:
		return nil
	case ast.Boolean:
		return bool(x)
	case ast.String:
		return string(x)
	case ast.Number:
		if f, err := json.Number(x).Float64(); err == nil {
			return f
		}
		return json.Number(x)
	case *ast.Array:
		out := make([]any, 0, x.Len())
		x.Foreach(func(t *ast.Term) { out = append(out, goValue(t.Value)) })
		return out
	case ast.Set:
		out := make([]any, 0, x.Len())
		x.Foreach(func(t *ast.Term) { out = append(out, goValue(t.Value)) })
		return out
	case ast.Object:
		out := make(map[string]any, x.Len())
		x.Foreach(func(k, t *ast.Term) { out[keyText(k.Value)] = goValue(t.Value) })
		return out
	}
	return v.String()
}

func keyText(v ast.Value) string {
	if s, ok := v.(ast.String); ok {
		return string(s)
	}
	return v.String()
}

// text renders a record value as the text an id or an entity is known by.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return string(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
