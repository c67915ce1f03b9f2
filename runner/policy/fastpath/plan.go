package fastpath

import (
	"errors"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
)

// sinkKind says what a body's solutions are for.
type sinkKind uint8

const (
	sinkDoc    sinkKind = iota // a complete rule's value: all must agree
	sinkFunc                   // a function's output: all must agree
	sinkExists                 // is there a solution at all
	sinkArray                  // comprehensions
	sinkSet
	sinkObject
)

// sink receives a body's solutions. Sinks live on a stack in the state, so
// that evaluating a rule allocates none.
type sink struct {
	kind       sinkKind
	key, value term
	prev       *ast.Term // the value so far (sinkDoc, sinkFunc)
	result     *ast.Term // the last solution's value
	stop       bool      // sinkExists: stop at the first solution
	found      bool
	arr        []*ast.Term
	set        ast.Set
	obj        ast.Object
}

// errStop ends a search that has its answer.
var errStop = errors.New("stop")

// ConflictError is a rule, function or object comprehension that produced
// two different values where OPA allows one; OPA fails the evaluation.
type ConflictError struct{ What string }

func (e *ConflictError) Error() string { return e.What + " produced conflicting values" }

func (k *sink) yield(s *state, fr []*ast.Term) error {
	switch k.kind {
	case sinkDoc, sinkFunc:
		r, err := k.value.eval(s, fr)
		if err != nil {
			return err
		}
		if r == nil {
			return errors.New("rule value undefined after its body held")
		}
		k.result = r
		if k.prev != nil && !k.prev.Equal(r) {
			return &ConflictError{What: "a complete rule or function"}
		}
		k.prev = r // the same value again changes nothing
		return nil
	case sinkExists:
		k.found = true
		if k.stop {
			return errStop
		}
		return nil
	case sinkArray, sinkSet:
		r, err := k.value.eval(s, fr)
		if r == nil || err != nil {
			return cmpErr(err, "comprehension term undefined")
		}
		if k.kind == sinkArray {
			k.arr = append(k.arr, r)
		} else {
			k.set.Add(r)
		}
		return nil
	case sinkObject:
		key, err := k.key.eval(s, fr)
		if key == nil || err != nil {
			return cmpErr(err, "comprehension key undefined")
		}
		val, err := k.value.eval(s, fr)
		if val == nil || err != nil {
			return cmpErr(err, "comprehension value undefined")
		}
		if x := k.obj.Get(key); x != nil && !x.Equal(val) {
			return &ConflictError{What: "an object comprehension"}
		}
		k.obj.Insert(key, val)
		return nil
	}
	return fmt.Errorf("unknown sink %d", k.kind)
}

func cmpErr(err error, msg string) error {
	if err != nil {
		return err
	}
	return errors.New(msg)
}

// defPlan is one definition of a rule or function: an element of an else
// chain. A prefix (Prefiltered targets) has a body and nothing else.
type defPlan struct {
	nslots int
	params []pattern // functions: the arguments, in the definition's frame
	body   *body
	value  term     // the head's value, in the definition's frame
	els    *defPlan // the next definition of the else chain
}

// docPlan is a complete rule (no arguments): its definitions, each with its
// else chain, and its default.
type docPlan struct {
	name string
	defs []*defPlan
	dflt *defPlan
	memo int // slot of its value per evaluation; -1: evaluated once anyway
}

// value evaluates the rule as OPA's evalVirtualComplete does: every
// definition, the else chain of one that has no value, the default when
// none has; values must agree.
func (d *docPlan) value(s *state) (*ast.Term, error) {
	if d.memo >= 0 {
		if m := &s.memo[d.memo]; m.done {
			return m.t, m.err
		}
	}
	var prev *ast.Term
	var err error
	for _, def := range d.defs {
		var next *ast.Term
		for e := def; e != nil && next == nil && err == nil; e = e.els {
			next, err = e.evalDoc(s, &prev)
		}
		if err != nil {
			break
		}
	}
	if err == nil && prev == nil && d.dflt != nil {
		_, err = d.dflt.evalDoc(s, &prev)
	}
	if err != nil {
		prev = nil
	}
	if d.memo >= 0 {
		s.memo[d.memo] = memo{done: true, t: prev, err: err}
	}
	return prev, err
}

func (d *defPlan) evalDoc(s *state, prev **ast.Term) (*ast.Term, error) {
	fr := s.push(d.nslots)
	k := s.pushSink(sinkDoc)
	k.value, k.prev = d.value, *prev
	err := d.body.run(s, fr, 0, k)
	*prev = k.prev
	res := k.result
	s.popSink()
	s.pop(d.nslots)
	return res, err
}

// possible tells whether a body (a prefix) has a solution.
func (d *defPlan) possible(s *state) (bool, error) {
	fr := s.push(d.nslots)
	k := s.pushSink(sinkExists)
	k.stop = true
	err := d.body.run(s, fr, 0, k)
	found := k.found
	s.popSink()
	s.pop(d.nslots)
	if errors.Is(err, errStop) {
		err = nil
	}
	return found, err
}

// funcPlan is a function of the policy.
type funcPlan struct {
	name  string
	arity int
	defs  []*defPlan
	dflt  *defPlan
}

// call evaluates the function as OPA's evalFunc does and returns its value
// (nil: undefined). A false value counts as a value here; a call used as a
// condition fails on it. A captured output is matched by the caller
// afterwards; OPA unifies it with the head before the body, which can only
// make a definition fail earlier or hide a conflict that is then reported
// here, and a conflict is left to OPA.
func (f *funcPlan) call(s *state, args []*ast.Term) (*ast.Term, error) {
	var prev *ast.Term
	for _, def := range f.defs {
		var next *ast.Term
		var err error
		for e := def; e != nil && next == nil && err == nil; e = e.els {
			next, err = e.evalFunc(s, args, &prev)
		}
		if err != nil {
			return nil, err
		}
	}
	if prev == nil && f.dflt != nil {
		if _, err := f.dflt.evalFunc(s, args, &prev); err != nil {
			return nil, err
		}
	}
	return prev, nil
}

func (d *defPlan) evalFunc(s *state, args []*ast.Term, prev **ast.Term) (*ast.Term, error) {
	fr := s.push(d.nslots)
	um := len(s.undo)
	ok := true
	var err error
	for i, p := range d.params {
		if ok, err = p.match(s, fr, args[i]); !ok || err != nil {
			break
		}
	}
	var res *ast.Term
	if ok && err == nil {
		k := s.pushSink(sinkFunc)
		k.value, k.prev = d.value, *prev
		err = d.body.run(s, fr, 0, k)
		*prev = k.prev
		res = k.result
		s.popSink()
	}
	s.unbind(um)
	s.pop(d.nslots)
	return res, err
}
