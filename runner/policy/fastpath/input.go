package fastpath

import (
	"errors"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Doc is the input document in Go form, read lazily.
type Doc interface {
	// Get returns the value of a top-level key of input as a Go value
	// (string, float64, bool, nil, map[string]any, []any, map[string]float64,
	// or anything ast.InterfaceToValue takes) and whether the key is defined.
	Get(key string) (any, bool)
	// Whole returns the whole input as OPA sees it, for a rule that reads
	// input itself rather than a path below it.
	Whole() (ast.Value, error)
}

// inputPath is a reference into input whose keys are all constants:
// input.record.amount. Its converted value is cached per evaluation.
type inputPath struct {
	slot int
	keys []*ast.Term // below input; keys[0] is a string
}

// native walks a path of constant keys from the top of input without
// converting anything. The result is a Go value or, below a value that had
// to be converted (an unusual Go type), an ast value.
func (s *state) native(keys []*ast.Term) (any, bool) {
	if s.static {
		panic(errNotConstant)
	}
	top, ok := keys[0].Value.(ast.String)
	if !ok {
		return nil, false
	}
	v, ok := s.doc.Get(string(top))
	if !ok {
		return nil, false
	}
	for _, k := range keys[1:] {
		if v, ok = lookup(v, k); !ok {
			return nil, false
		}
	}
	return v, true
}

// lookup is OPA's ref step (Term.Get) on a Go value: an object's key, an
// array's index, a set's member; scalars have no keys.
func lookup(v any, key *ast.Term) (any, bool) {
	switch c := v.(type) {
	case map[string]any:
		k, ok := key.Value.(ast.String)
		if !ok {
			return nil, false // an object made from a Go map has string keys only
		}
		x, ok := c[string(k)]
		return x, ok
	case map[string]float64:
		k, ok := key.Value.(ast.String)
		if !ok {
			return nil, false
		}
		x, ok := c[string(k)]
		return x, ok
	case []any:
		n, ok := key.Value.(ast.Number)
		if !ok {
			return nil, false
		}
		i, ok := n.Int() // as ast.Array.Get
		if !ok || i < 0 || i >= len(c) {
			return nil, false
		}
		return c[i], true
	case nil, string, float64, bool:
		return nil, false
	case ast.Value:
		t := ast.NewTerm(c).Get(key)
		if t == nil {
			return nil, false
		}
		return t.Value, true
	}
	val, err := toValue(v)
	if err != nil {
		return nil, false
	}
	return lookup(val, key)
}

// toValue converts a Go value of the input to what OPA sees for it: what
// ast.InterfaceToValue makes of it, and an object of numbers for a
// map[string]float64 (input.scores), as the policy builds it.
func toValue(v any) (ast.Value, error) {
	switch x := v.(type) {
	case ast.Value:
		return x, nil
	case map[string]float64:
		obj := ast.NewObjectWithCapacity(len(x))
		for k, f := range x {
			obj.Insert(ast.StringTerm(k), ast.FloatNumberTerm(f))
		}
		return obj, nil
	}
	return ast.InterfaceToValue(v)
}

// nativeAt returns the Go value at a constant input path, looked up once
// per evaluation.
func (s *state) nativeAt(p *inputPath) (any, bool) {
	if s.static {
		panic(errNotConstant)
	}
	switch s.looked[p.slot] {
	case lookedFound:
		return s.natives[p.slot], true
	case lookedMissing:
		return nil, false
	}
	v, ok := s.native(p.keys)
	if ok {
		s.natives[p.slot], s.looked[p.slot] = v, lookedFound
	} else {
		s.looked[p.slot] = lookedMissing
	}
	return v, ok
}

const (
	lookedNot uint8 = iota
	lookedFound
	lookedMissing
)

// inputTerm returns the value at a constant input path, converted once per
// evaluation.
func (s *state) inputTerm(p *inputPath) (*ast.Term, error) {
	if s.static {
		panic(errNotConstant)
	}
	if t := s.inputs[p.slot]; t != nil {
		return t, nil
	}
	v, ok := s.nativeAt(p)
	if !ok {
		return nil, nil
	}
	val, err := toValue(v)
	if err != nil {
		return nil, err
	}
	t := ast.NewTerm(val)
	s.inputs[p.slot] = t
	return t, nil
}

// wholeInput returns input itself, once per evaluation.
func (s *state) wholeInput() (*ast.Term, error) {
	if s.static {
		panic(errNotConstant)
	}
	if s.whole == nil {
		v, err := s.doc.Whole()
		if err != nil {
			return nil, err
		}
		s.whole = ast.NewTerm(v)
	}
	return s.whole, nil
}

// errNotConstant stops an evaluation while planning at the first thing
// that depends on the record.
var errNotConstant = errors.New("not a constant")
