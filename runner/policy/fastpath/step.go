package fastpath

import (
	"errors"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// body is a rule body (or a comprehension's, or a negated expression) as a
// sequence of steps evaluated depth first, as OPA does: each step calls the
// rest of the body once per solution and takes its bindings back before it
// returns.
type body struct{ steps []step }

type step interface {
	// exec evaluates the step and, for each solution, the rest of the body
	// from step next on; k receives the body's solutions.
	exec(s *state, fr []*ast.Term, b *body, next int, k *sink) error
}

func (b *body) run(s *state, fr []*ast.Term, i int, k *sink) error {
	if i == len(b.steps) {
		return k.yield(s, fr)
	}
	return b.steps[i].exec(s, fr, b, i+1, k)
}

// failStep is an expression that can never hold (a constant reference
// that is undefined).
type failStep struct{}

func (failStep) exec(*state, []*ast.Term, *body, int, *sink) error { return nil }

// definedStep is `x = input.path` when x only names the path: the path
// must be defined.
type definedStep struct{ p *inputPath }

func (d definedStep) exec(s *state, fr []*ast.Term, b *body, next int, k *sink) error {
	if _, ok := s.nativeAt(d.p); !ok {
		return nil
	}
	return b.run(s, fr, next, k)
}

// checkStep is an expression that is a single term: defined and not false.
type checkStep struct{ t term }

func (c checkStep) exec(s *state, fr []*ast.Term, b *body, next int, k *sink) error {
	v, err := c.t.eval(s, fr)
	if v == nil || err != nil || isFalse(v) {
		return err
	}
	return b.run(s, fr, next, k)
}

// unifyStep is `pattern = value` with the value known.
type unifyStep struct {
	val term
	pat pattern
}

func (u unifyStep) exec(s *state, fr []*ast.Term, b *body, next int, k *sink) error {
	v, err := u.val.eval(s, fr)
	if v == nil || err != nil {
		return err
	}
	return b.yield(s, fr, next, k, u.pat, v)
}

// yield goes on with the body after a step produced v: with no pattern, v
// is a condition (false stops here); else v is unified with pat for the
// rest of the body, and the bindings are undone after.
func (b *body) yield(s *state, fr []*ast.Term, next int, k *sink, pat pattern, v *ast.Term) error {
	if pat == nil {
		if isFalse(v) {
			return nil
		}
		return b.run(s, fr, next, k)
	}
	mark := len(s.undo)
	ok, err := pat.match(s, fr, v)
	if ok && err == nil {
		err = b.run(s, fr, next, k)
	}
	s.unbind(mark)
	return err
}

type cmpOp uint8

const (
	opEqual cmpOp = iota
	opNotEqual
	opLess
	opLessEq
	opGreater
	opGreaterEq
)

// compareStep is a comparison used as a condition: exactly what OPA's
// comparison built-ins compute (topdown/comparison.go).
type compareStep struct {
	op   cmpOp
	a, b term
}

func (c compareStep) exec(s *state, fr []*ast.Term, b *body, next int, k *sink) error {
	x, err := c.a.eval(s, fr)
	if x == nil || err != nil {
		return err
	}
	y, err := c.b.eval(s, fr)
	if y == nil || err != nil {
		return err
	}
	var ok bool
	switch c.op {
	case opEqual:
		ok = x.Equal(y)
	case opNotEqual:
		ok = !x.Equal(y)
	case opLess:
		ok = x.Value.Compare(y.Value) < 0
	case opLessEq:
		ok = x.Value.Compare(y.Value) <= 0
	case opGreater:
		ok = x.Value.Compare(y.Value) > 0
	case opGreaterEq:
		ok = x.Value.Compare(y.Value) >= 0
	}
	if !ok {
		return nil
	}
	return b.run(s, fr, next, k)
}

// builtinStep calls one of OPA's built-in functions through OPA's own
// implementation.
type builtinStep struct {
	name string
	fn   topdown.BuiltinFunc
	args []term
	out  pattern // the captured output; nil when the call is a condition
	outT term    // the output's value when it is known before the call
	void bool    // the built-in has no result
}

// outPlaceholder stands for a captured output not bound yet: OPA passes the
// unbound variable itself to the built-in.
var outPlaceholder = ast.VarTerm("__fastpath_out__")

func (c builtinStep) exec(s *state, fr []*ast.Term, b *body, next int, k *sink) error {
	mark := len(s.ops)
	for _, a := range c.args {
		t, err := a.eval(s, fr)
		if t == nil || err != nil {
			s.ops = s.ops[:mark]
			return err
		}
		s.ops = append(s.ops, t)
	}
	if c.out != nil {
		o := outPlaceholder
		if c.outT != nil {
			t, err := c.outT.eval(s, fr)
			if t == nil || err != nil {
				s.ops = s.ops[:mark]
				return err
			}
			o = t
		}
		s.ops = append(s.ops, o)
	}
	omark := len(s.outs)
	err := c.fn(s.bctx, s.ops[mark:], s.collect)
	s.ops = s.ops[:mark]
	if err != nil {
		var halt topdown.Halt
		if errors.As(err, &halt) {
			s.outs = s.outs[:omark]
			return halt.Err
		}
		// OPA records a built-in's error and takes the call as undefined
		// (unless strict built-in errors are asked for, which Vigil does
		// not); outputs given before the error still count.
	}
	n := len(s.outs) - omark
	for j := 0; j < n && err == nil; j++ {
		o := s.outs[omark+j]
		if c.void {
			err = b.run(s, fr, next, k)
		} else {
			err = b.yield(s, fr, next, k, c.out, o)
		}
	}
	s.outs = s.outs[:omark]
	return err
}

// funcStep calls a function of the policy.
type funcStep struct {
	f    *funcPlan
	args []term
	out  pattern // nil: the call is a condition
}

func (c funcStep) exec(s *state, fr []*ast.Term, b *body, next int, k *sink) error {
	mark := len(s.ops)
	for _, a := range c.args {
		t, err := a.eval(s, fr)
		if t == nil || err != nil {
			s.ops = s.ops[:mark]
			return err
		}
		s.ops = append(s.ops, t)
	}
	res, err := c.f.call(s, s.ops[mark:mark+len(c.args):mark+len(c.args)])
	s.ops = s.ops[:mark]
	if res == nil || err != nil {
		return err
	}
	return b.yield(s, fr, next, k, c.out, res)
}

// genKey is one key of an iterated reference: a value, or a local that
// iteration binds.
type genKey struct {
	t    term // nil when the key is iterated
	slot int
}

// genStep is a reference with keys to iterate over (x = coll[i],
// coll[_].flag): keys not bound yet run through the collection in OPA's
// order (arrays by index, objects and sets sorted).
type genStep struct {
	base term
	keys []genKey
	pat  pattern // unified with each value; nil: each value is a condition
}

func (g genStep) exec(s *state, fr []*ast.Term, b *body, next int, k *sink) error {
	v, err := g.base.eval(s, fr)
	if v == nil || err != nil {
		return err
	}
	return g.walk(s, fr, b, next, k, v, 0)
}

func (g genStep) walk(s *state, fr []*ast.Term, b *body, next int, k *sink, cur *ast.Term, j int) error {
	if j == len(g.keys) {
		return b.yield(s, fr, next, k, g.pat, cur)
	}
	key := g.keys[j]
	if key.t != nil {
		kt, err := key.t.eval(s, fr)
		if kt == nil || err != nil {
			return err
		}
		if cur = cur.Get(kt); cur == nil {
			return nil
		}
		return g.walk(s, fr, b, next, k, cur, j+1)
	}
	var err error
	switch c := cur.Value.(type) {
	case *ast.Array:
		for i := 0; i < c.Len() && err == nil; i++ {
			s.bind(fr, key.slot, ast.InternedTerm(i))
			mark := len(s.undo)
			err = g.walk(s, fr, b, next, k, c.Elem(i), j+1)
			s.unbind(mark - 1)
		}
	case ast.Object:
		ki := c.KeysIterator()
		for kk, more := ki.Next(); more && err == nil; kk, more = ki.Next() {
			s.bind(fr, key.slot, kk)
			mark := len(s.undo)
			err = g.walk(s, fr, b, next, k, c.Get(kk), j+1)
			s.unbind(mark - 1)
		}
	case ast.Set:
		for _, e := range c.Slice() {
			if err != nil {
				break
			}
			s.bind(fr, key.slot, e)
			mark := len(s.undo)
			err = g.walk(s, fr, b, next, k, e, j+1)
			s.unbind(mark - 1)
		}
	}
	return err
}

// notStep is a negated expression: it holds when the expression has no
// solution. Like OPA, every solution is explored.
type notStep struct{ inner *body }

func (n notStep) exec(s *state, fr []*ast.Term, b *body, next int, k *sink) error {
	sk := s.pushSink(sinkExists)
	err := n.inner.run(s, fr, 0, sk)
	found := sk.found
	s.popSink()
	if err != nil || found {
		return err
	}
	return b.run(s, fr, next, k)
}
