package fastpath

import (
	"errors"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
)

// term is a value in a plan: it evaluates to a term, or to nil when it is
// undefined. Every local it reads is bound by the time it is evaluated.
type term interface {
	eval(s *state, fr []*ast.Term) (*ast.Term, error)
}

type constTerm struct{ t *ast.Term }

func (c constTerm) eval(*state, []*ast.Term) (*ast.Term, error) { return c.t, nil }

type varTerm struct {
	slot int
	name ast.Var
}

func (v varTerm) eval(_ *state, fr []*ast.Term) (*ast.Term, error) {
	if t := fr[v.slot]; t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("local %s read before it is bound", v.name)
}

// inputTerm is input at a path of constant keys, converted once.
type inputTerm struct{ p *inputPath }

func (i inputTerm) eval(s *state, _ []*ast.Term) (*ast.Term, error) { return s.inputTerm(i.p) }

type wholeInputTerm struct{}

func (wholeInputTerm) eval(s *state, _ []*ast.Term) (*ast.Term, error) { return s.wholeInput() }

// nativeRefTerm is input at a path with keys computed per evaluation
// (input.record[f]); it walks the Go values and converts only the result.
type nativeRefTerm struct {
	prefix []*ast.Term // constant keys below input; may be empty
	keys   []term
}

func (r nativeRefTerm) eval(s *state, fr []*ast.Term) (*ast.Term, error) {
	var v any
	keys := r.keys
	if len(r.prefix) > 0 {
		var ok bool
		if v, ok = s.native(r.prefix); !ok {
			return nil, nil
		}
	} else {
		if s.static {
			panic(errNotConstant)
		}
		k, err := keys[0].eval(s, fr)
		if k == nil || err != nil {
			return nil, err
		}
		top, ok := k.Value.(ast.String)
		if !ok {
			return nil, nil // input's keys are strings
		}
		if v, ok = s.doc.Get(string(top)); !ok {
			return nil, nil
		}
		keys = keys[1:]
	}
	for _, kt := range keys {
		k, err := kt.eval(s, fr)
		if k == nil || err != nil {
			return nil, err
		}
		var ok bool
		if v, ok = lookup(v, k); !ok {
			return nil, nil
		}
	}
	val, err := toValue(v)
	if err != nil {
		return nil, err
	}
	return ast.NewTerm(val), nil
}

// refTerm looks keys up in a value: a constant, a local, a rule's value.
type refTerm struct {
	base term
	keys []term
}

func (r refTerm) eval(s *state, fr []*ast.Term) (*ast.Term, error) {
	t, err := r.base.eval(s, fr)
	if t == nil || err != nil {
		return nil, err
	}
	for _, kt := range r.keys {
		k, err := kt.eval(s, fr)
		if k == nil || err != nil {
			return nil, err
		}
		if t = t.Get(k); t == nil {
			return nil, nil
		}
	}
	return t, nil
}

// docTerm is the value of a complete rule that depends on input.
type docTerm struct{ d *docPlan }

func (d docTerm) eval(s *state, _ []*ast.Term) (*ast.Term, error) {
	if s.static {
		panic(errNotConstant)
	}
	return d.d.value(s)
}

type arrayTerm struct{ elems []term }

func (a arrayTerm) eval(s *state, fr []*ast.Term) (*ast.Term, error) {
	elems := make([]*ast.Term, len(a.elems))
	for i, e := range a.elems {
		t, err := e.eval(s, fr)
		if t == nil || err != nil {
			return nil, err
		}
		elems[i] = t
	}
	return ast.ArrayTerm(elems...), nil
}

type setTerm struct{ elems []term }

func (a setTerm) eval(s *state, fr []*ast.Term) (*ast.Term, error) {
	set := ast.NewSet()
	for _, e := range a.elems {
		t, err := e.eval(s, fr)
		if t == nil || err != nil {
			return nil, err
		}
		set.Add(t)
	}
	return ast.NewTerm(set), nil
}

type objectTerm struct{ keys, vals []term }

func (o objectTerm) eval(s *state, fr []*ast.Term) (*ast.Term, error) {
	obj := ast.NewObjectWithCapacity(len(o.keys))
	for i := range o.keys {
		k, err := o.keys[i].eval(s, fr)
		if k == nil || err != nil {
			return nil, err
		}
		v, err := o.vals[i].eval(s, fr)
		if v == nil || err != nil {
			return nil, err
		}
		if obj.Get(k) != nil {
			return nil, errDuplicateKey // OPA's own handling of this is left to OPA
		}
		obj.Insert(k, v)
	}
	return ast.NewTerm(obj), nil
}

var errDuplicateKey = errors.New("object built with a duplicate key")

// comprTerm is an array, set or object comprehension; its body runs in the
// frame of the body it is in.
type comprTerm struct {
	kind       sinkKind // sinkArray, sinkSet or sinkObject
	body       *body
	key, value term
}

func (c comprTerm) eval(s *state, fr []*ast.Term) (*ast.Term, error) {
	k := s.pushSink(c.kind)
	k.key, k.value = c.key, c.value
	switch c.kind {
	case sinkSet:
		k.set = ast.NewSet()
	case sinkObject:
		k.obj = ast.NewObject()
	}
	err := c.body.run(s, fr, 0, k)
	var out *ast.Term
	switch c.kind {
	case sinkArray:
		out = ast.ArrayTerm(k.arr...)
	case sinkSet:
		out = ast.NewTerm(k.set)
	case sinkObject:
		out = ast.NewTerm(k.obj)
	}
	s.popSink()
	if err != nil {
		return nil, err
	}
	return out, nil
}

// isFalse is OPA's test of an expression's value: anything but false
// (defined) makes it true.
func isFalse(t *ast.Term) bool {
	b, ok := t.Value.(ast.Boolean)
	return ok && !bool(b)
}

// pattern is the side of a unification that may bind locals.
type pattern interface {
	// match unifies the pattern with v, binding locals through s.bind;
	// false when they do not unify.
	match(s *state, fr []*ast.Term, v *ast.Term) (bool, error)
}

// bindPat is a local not bound yet.
type bindPat struct{ slot int }

func (b bindPat) match(s *state, fr []*ast.Term, v *ast.Term) (bool, error) {
	s.bind(fr, b.slot, v)
	return true, nil
}

// valuePat is a value already known: unification is equality.
type valuePat struct{ t term }

func (p valuePat) match(s *state, fr []*ast.Term, v *ast.Term) (bool, error) {
	x, err := p.t.eval(s, fr)
	if x == nil || err != nil {
		return false, err
	}
	return x.Equal(v), nil
}

type arrayPat struct{ elems []pattern }

func (p arrayPat) match(s *state, fr []*ast.Term, v *ast.Term) (bool, error) {
	arr, ok := v.Value.(*ast.Array)
	if !ok || arr.Len() != len(p.elems) {
		return false, nil
	}
	for i, e := range p.elems {
		if ok, err := e.match(s, fr, arr.Elem(i)); !ok || err != nil {
			return false, err
		}
	}
	return true, nil
}

type objectPat struct {
	keys []*ast.Term // constants
	vals []pattern
}

func (p objectPat) match(s *state, fr []*ast.Term, v *ast.Term) (bool, error) {
	obj, ok := v.Value.(ast.Object)
	if !ok || obj.Len() != len(p.keys) {
		return false, nil
	}
	for i, k := range p.keys {
		x := obj.Get(k)
		if x == nil {
			return false, nil
		}
		if ok, err := p.vals[i].match(s, fr, x); !ok || err != nil {
			return false, err
		}
	}
	return true, nil
}
