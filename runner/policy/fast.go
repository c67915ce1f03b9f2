package policy

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/vigil-risk/vigil/runner/policy/fastpath"
)

// compiled is the bundle as OPA compiled it: the compiler and the store
// that the queries share, and the query of all rules at once.
type compiled struct {
	compiler *ast.Compiler
	store    storage.Store
	query    rego.PreparedEvalQuery
}

// prepare compiles the bundle strictly and prepares the hits query. The
// store is Vigil's own, so that later queries (one per rule, constants for
// the fast path) read the same data without compiling the bundle again.
func prepare(ctx context.Context, b *bundle.Bundle) (*compiled, error) {
	c := ast.NewCompiler().
		WithStrict(true).
		WithDefaultRegoVersion(ast.RegoV1).
		WithEnablePrintStatements(false).
		WithUseTypeCheckAnnotations(true).
		SetErrorLimit(0) // report every error, not the first ten
	store := inmem.NewWithOpts(inmem.OptReturnASTValuesOnRead(true))
	txn, err := store.NewTransaction(ctx, storage.WriteParams)
	if err != nil {
		return nil, err
	}
	q, err := rego.New(
		rego.Query(hitsQuery),
		rego.Compiler(c),
		rego.Store(store),
		rego.Transaction(txn),
		rego.ParsedBundle("vigil", b),
		rego.SetRegoVersion(ast.RegoV1),
	).PrepareForEval(ctx)
	if err != nil {
		store.Abort(ctx, txn)
		return nil, err
	}
	if err := store.Commit(ctx, txn); err != nil {
		return nil, err
	}
	return &compiled{compiler: c, store: store, query: q}, nil
}

// evalOptions are the per-call options that never change: no metrics, a
// cancel handle of our own (sparing Eval a watcher goroutine per call; a
// runaway rule is bounded by the caller's batch deadline instead) and the
// result as OPA's own value.
func evalOptions() []rego.EvalOption {
	return []rego.EvalOption{
		rego.EvalMetrics(metrics.NoOp()),
		rego.EvalExternalCancel(topdown.NewCancel()),
		rego.EvalGenerateJSON(rawValue),
	}
}

// WithoutFastPath makes Decide evaluate every record with plain OPA, one
// query of all rules, as DecideOPA does: the way to compare, or to rule the
// fast path out.
func WithoutFastPath() Option {
	return func(o *options) { o.noFastPath = true }
}

// fastPath evaluates the rules in Go (fastpath.Program) and asks OPA, one
// prepared query per rule, only about what the program leaves to it.
type fastPath struct {
	prog    *fastpath.Program
	queries []rego.PreparedEvalQuery // by rule, as p.Rules
}

// hitQuery is the query of one rule's hit.
func hitQuery(name string) ast.Body {
	return ast.NewBody(ast.Equality.Expr(ast.VarTerm("hit"), ast.NewTerm(rulesRoot.Append(ast.StringTerm(name)).Append(ast.StringTerm("hit")))))
}

// newFastPath plans the rules. It returns nil, and the reason, when the
// bundle has something the fast path cannot stand in for: then every
// record goes through the one query, as before.
func newFastPath(ctx context.Context, cp *compiled, b *bundle.Bundle, rules []Rule) (*fastPath, string, error) {
	if _, ok := dig(b.Data, "risk", "rules"); ok {
		// The one query would see base data under data.risk.rules too.
		return nil, "the bundle has data under data.risk.rules", nil
	}
	targets := make([]ast.Ref, len(rules))
	for i, r := range rules {
		targets[i] = rulesRoot.Append(ast.StringTerm(r.Name)).Append(ast.StringTerm("hit"))
	}
	prog, err := fastpath.Compile(fastpath.Options{
		Compiler: cp.compiler,
		Targets:  targets,
		Constant: func(ref ast.Ref) (*ast.Term, error) { return constant(ctx, cp, ref) },
	})
	if err != nil {
		return nil, "", err
	}
	f := &fastPath{prog: prog, queries: make([]rego.PreparedEvalQuery, len(rules))}
	for i, r := range rules {
		q, err := rego.New(
			rego.ParsedQuery(hitQuery(r.Name)),
			rego.Compiler(cp.compiler),
			rego.Store(cp.store),
			rego.SetRegoVersion(ast.RegoV1),
		).PrepareForEval(ctx)
		if err != nil {
			return nil, "", fmt.Errorf("rule %s: %w", r.Name, err)
		}
		f.queries[i] = q
	}
	return f, "", nil
}

// constant evaluates a reference into data that does not depend on input.
func constant(ctx context.Context, cp *compiled, ref ast.Ref) (*ast.Term, error) {
	rs, err := rego.New(
		rego.ParsedQuery(ast.NewBody(ast.Equality.Expr(ast.VarTerm("x"), ast.NewTerm(ref)))),
		rego.Compiler(cp.compiler),
		rego.Store(cp.store),
		rego.SetRegoVersion(ast.RegoV1),
		rego.GenerateJSON(rawValue),
	).Eval(ctx)
	switch {
	case err != nil:
		return nil, err
	case len(rs) == 0:
		return nil, nil
	case len(rs) > 1:
		return nil, fmt.Errorf("%v has %d values", ref, len(rs))
	}
	v, ok := rs[0].Bindings["x"].(ast.Value)
	if !ok {
		return nil, fmt.Errorf("%v: unexpected result %T", ref, rs[0].Bindings["x"])
	}
	return ast.NewTerm(v), nil
}

func dig(m map[string]any, keys ...string) (any, bool) {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = mm[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// RuleEvaluation says how the fast path evaluates a rule: "compiled" (in
// Go, OPA's semantics), "prefiltered" (OPA, on records that pass a
// prefilter) or "opa" (OPA, on every record), and why not compiled.
type RuleEvaluation struct {
	Rule   string `json:"rule"`
	Mode   string `json:"mode"`
	Reason string `json:"reason,omitempty"`
}

// Evaluation tells how each rule is evaluated, in rule order. Without a
// fast path every rule is "opa".
func (p *Policy) Evaluation() []RuleEvaluation {
	out := make([]RuleEvaluation, len(p.Rules))
	for i, r := range p.Rules {
		out[i] = RuleEvaluation{Rule: r.Name, Mode: fastpath.OPA.String(), Reason: p.fastReason}
		if p.fast != nil {
			m, why := p.fast.prog.Mode(i)
			out[i].Mode, out[i].Reason = m.String(), why
		}
	}
	return out
}

// inputDoc is an Input as the fast path reads it: the same document
// inputValue builds, read lazily.
type inputDoc struct{ in *Input }

func (d inputDoc) Get(key string) (any, bool) {
	switch key {
	case "record":
		return d.in.Record, true
	case "features":
		return d.in.Features, true
	case "scores":
		return d.in.Scores, true
	case "context":
		return d.in.Context, true
	}
	return nil, false
}

func (d inputDoc) Whole() (ast.Value, error) { return inputValue(d.in) }

// finite tells whether every score is a number OPA can hold; inputValue
// refuses the others, and so the fast path leaves such a record to it.
func finite(scores map[string]float64) bool {
	for _, x := range scores {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// modes counts the rules per evaluation mode, for the load log.
func (p *Policy) modes() map[string]int {
	n := map[string]int{}
	for _, e := range p.Evaluation() {
		n[e.Mode]++
	}
	return n
}

func sortedModes(m map[string]int) []any {
	var out []any
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k, m[k])
	}
	return out
}
