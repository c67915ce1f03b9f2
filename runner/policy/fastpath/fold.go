package fastpath

import (
	"context"
	"errors"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/builtins"
)

// Folding: what does not depend on the record is evaluated once, while
// planning, by the same steps that would evaluate it per record. Reading
// input, a rule that depends on input, or a local bound per record stops
// the evaluation, and the part is left to run per record.

func (c *compiler) static() *state {
	s := &state{static: true, stack: make([]*ast.Term, 64), sinks: make([]sink, 8)}
	s.collect = s.collectOutput
	s.bctx = topdown.BuiltinContext{Context: context.Background(), Cache: builtins.Cache{}, Capabilities: c.oc.Capabilities()}
	return s
}

// foldTerm returns t's value as a constant when it has one.
func (c *compiler) foldTerm(t term, sc *scope) (out term) {
	defer func() {
		if recover() != nil {
			out = t
		}
	}()
	v, err := t.eval(c.static(), make([]*ast.Term, sc.fr.n))
	if err != nil || v == nil {
		return t
	}
	return constTerm{t: v}
}

// foldCall evaluates a call of a built-in on constants: a condition that
// always holds disappears, one that never does fails, and an output that is
// a fresh local becomes a name for the constant.
func (c *compiler) foldCall(fn topdown.BuiltinFunc, args []term, out *ast.Term, void bool, sc *scope) (steps []step, ok bool) {
	name, outVar := c.freshOutput(out, sc)
	if void || (out != nil && !outVar) {
		return nil, false
	}
	ops := make([]*ast.Term, 0, len(args)+1)
	for _, a := range args {
		k, isConst := a.(constTerm)
		if !isConst || k.t == nil {
			return nil, false
		}
		ops = append(ops, k.t)
	}
	if out != nil {
		ops = append(ops, outPlaceholder)
	}
	defer func() {
		if recover() != nil {
			steps, ok = nil, false
		}
	}()
	s := c.static()
	err := fn(s.bctx, ops, s.collect)
	var halt topdown.Halt
	if errors.As(err, &halt) {
		return nil, false
	}
	return c.folded(s.outs, out == nil, name, sc)
}

// foldFunc evaluates a call of a function of the policy on constants.
func (c *compiler) foldFunc(f *funcPlan, args []term, out *ast.Term, sc *scope) (steps []step, ok bool) {
	name, outVar := c.freshOutput(out, sc)
	if out != nil && !outVar {
		return nil, false
	}
	vals := make([]*ast.Term, len(args))
	for i, a := range args {
		k, isConst := a.(constTerm)
		if !isConst || k.t == nil {
			return nil, false
		}
		vals[i] = k.t
	}
	defer func() {
		if recover() != nil {
			steps, ok = nil, false
		}
	}()
	v, err := f.call(c.static(), vals)
	if err != nil {
		return nil, false
	}
	var outs []*ast.Term
	if v != nil {
		outs = []*ast.Term{v}
	}
	return c.folded(outs, out == nil, name, sc)
}

// freshOutput tells whether a call's output is a local not bound yet.
func (c *compiler) freshOutput(out *ast.Term, sc *scope) (ast.Var, bool) {
	if out == nil {
		return "", false
	}
	v, ok := out.Value.(ast.Var)
	if !ok || c.isRoot(v) {
		return "", false
	}
	_, bound := sc.lookup(v)
	return v, !bound
}

// folded turns the outputs of a call evaluated while planning into steps;
// a call with several outputs (a relation) stays.
func (c *compiler) folded(outs []*ast.Term, condition bool, name ast.Var, sc *scope) ([]step, bool) {
	switch {
	case len(outs) > 1:
		return nil, false
	case len(outs) == 0 || (condition && isFalse(outs[0])):
		return []step{failStep{}}, true
	case !condition:
		sc.vars[name] = binding{kind: bindConst, t: outs[0]}
	}
	return nil, true
}
