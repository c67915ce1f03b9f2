package fastpath

import (
	"math"
	"net"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// The steps here compare a value of input with a constant on the Go value,
// without converting it, where the answer is certain to be OPA's; anything
// else falls back to the converted value and OPA's comparison.

// Sort order of values as ast.Compare has it (valueSortOrder).
const (
	kindNull   = 0
	kindBool   = 1
	kindNumber = 2
	kindString = 3
	kindArray  = 7
	kindObject = 8
	kindSet    = 9
	kindOther  = -1
)

func astKind(v ast.Value) int {
	switch v.(type) {
	case ast.Null:
		return kindNull
	case ast.Boolean:
		return kindBool
	case ast.Number:
		return kindNumber
	case ast.String:
		return kindString
	case *ast.Array:
		return kindArray
	case ast.Object:
		return kindObject
	case ast.Set:
		return kindSet
	}
	return kindOther
}

// goKind is the kind of the value ast.InterfaceToValue makes of v, for the
// Go types whose conversion is certain.
func goKind(v any) int {
	switch v.(type) {
	case nil:
		return kindNull
	case bool:
		return kindBool
	case float64:
		return kindNumber
	case string:
		return kindString
	case []any:
		return kindArray
	case map[string]any, map[string]float64:
		return kindObject
	}
	return kindOther
}

// constant is a scalar constant prepared for comparing with Go values.
type constant struct {
	t    *ast.Term
	kind int
	f    float64 // a number's nearest float64
	fast bool    // a number whose float64 compares as the number itself does
}

func newConstant(t *ast.Term) *constant {
	c := &constant{t: t, kind: astKind(t.Value)}
	if n, ok := t.Value.(ast.Number); ok {
		f, err := strconv.ParseFloat(string(n), 64)
		if err == nil && !math.IsInf(f, 0) {
			c.f = f
			// Equal floats mean equal numbers only when the constant is
			// exactly the decimal that float64 formats to.
			c.fast = ast.NumberCompare(ast.Number(strconv.FormatFloat(f, 'g', -1, 64)), n) == 0
		}
	}
	return c
}

// compare is x.Compare(c) for the Go value x when it can be told without
// converting x.
//
// A float64 x stands for the number FormatFloat(x, 'g', -1) (as
// ast.InterfaceToValue writes it), whose decimal value rounds to x; c's
// rounds to c.f. Rounding is monotonic, so x < c.f means the number is below
// c and x > c.f above it; only x == c.f needs c to be that very decimal.
func (c *constant) compare(x any) (int, bool) {
	k := goKind(x)
	switch {
	case k == kindOther || c.kind == kindOther:
		return 0, false
	case k != c.kind:
		if k < c.kind {
			return -1, true
		}
		return 1, true
	}
	switch v := x.(type) {
	case string:
		return strings.Compare(v, string(c.t.Value.(ast.String))), true
	case bool:
		b := bool(c.t.Value.(ast.Boolean))
		switch {
		case v == b:
			return 0, true
		case !v:
			return -1, true
		}
		return 1, true
	case nil:
		return 0, true
	case float64:
		switch {
		case !c.fast, math.IsNaN(v), math.IsInf(v, 0): // OPA's own comparison decides (it cannot hold them)
		case v < c.f:
			return -1, true
		case v > c.f:
			return 1, true
		default:
			return 0, true
		}
	}
	return 0, false
}

// nativeCmpStep is a comparison (or an equality) of input at a constant
// path with a scalar constant.
type nativeCmpStep struct {
	op   cmpOp
	p    *inputPath
	c    *constant
	flip bool // the constant is on the left
}

func (n nativeCmpStep) exec(s *state, fr []*ast.Term, b *body, next int, k *sink) error {
	if ok, err := n.test(s); !ok || err != nil {
		return err
	}
	return b.run(s, fr, next, k)
}

// test tells whether the comparison holds; it binds nothing.
func (n nativeCmpStep) test(s *state) (bool, error) {
	x, ok := s.nativeAt(n.p)
	if !ok {
		return false, nil
	}
	cmp, ok := n.c.compare(x)
	if !ok {
		t, err := s.inputTerm(n.p)
		if t == nil || err != nil {
			return false, err
		}
		if n.op == opEqual || n.op == opNotEqual {
			if t.Equal(n.c.t) {
				cmp = 0
			} else {
				cmp = 1
			}
		} else {
			cmp = t.Value.Compare(n.c.t.Value)
		}
	}
	if n.flip {
		cmp = -cmp
	}
	switch n.op {
	case opEqual:
		return cmp == 0, nil
	case opNotEqual:
		return cmp != 0, nil
	case opLess:
		return cmp < 0, nil
	case opLessEq:
		return cmp <= 0, nil
	case opGreater:
		return cmp > 0, nil
	}
	return cmp >= 0, nil // opGreaterEq
}

// nativeMemberStep is `input.path in {"a", "b"}` over a constant set of
// strings (internal.member_2 as a condition).
type nativeMemberStep struct {
	p    *inputPath
	strs map[string]struct{}
	slow builtinStep // for a value that is not a Go string
}

func (n nativeMemberStep) exec(s *state, fr []*ast.Term, b *body, next int, k *sink) error {
	x, ok := s.nativeAt(n.p)
	if !ok {
		return nil
	}
	str, ok := x.(string)
	if !ok {
		return n.slow.exec(s, fr, b, next, k)
	}
	if _, in := n.strs[str]; !in {
		return nil
	}
	return b.run(s, fr, next, k)
}

// test tells whether the value is a member; false with known=false when
// only the slow step can tell.
func (n nativeMemberStep) test(s *state) (member, known bool) {
	x, ok := s.nativeAt(n.p)
	if !ok {
		return false, true
	}
	str, ok := x.(string)
	if !ok {
		return false, false
	}
	_, in := n.strs[str]
	return in, true
}

// stringSet returns a set constant's members when all are strings.
func stringSet(t *ast.Term) (map[string]struct{}, bool) {
	set, ok := t.Value.(ast.Set)
	if !ok {
		return nil, false
	}
	out := make(map[string]struct{}, set.Len())
	all := true
	set.Foreach(func(e *ast.Term) {
		if s, ok := e.Value.(ast.String); ok {
			out[string(s)] = struct{}{}
		} else {
			all = false
		}
	})
	return out, all
}

// specialise replaces a comparison of input with a constant by its native
// form.
func (c *compiler) nativeCompare(op cmpOp, a, b term) (step, bool) {
	in, ok1 := a.(inputTerm)
	k, ok2 := b.(constTerm)
	flip := false
	if !ok1 || !ok2 {
		in, ok1 = b.(inputTerm)
		k, ok2 = a.(constTerm)
		flip = true
	}
	if !ok1 || !ok2 || k.t == nil || astKind(k.t.Value) > kindString || astKind(k.t.Value) < 0 {
		return nil, false
	}
	return nativeCmpStep{op: op, p: in.p, c: newConstant(k.t), flip: flip}, true
}

// nativeLookupTerm is a constant object looked up by input at a constant
// path (data.lists.blocked[input.record.card_id]): a Go string key is
// looked up directly, anything else the way OPA does.
type nativeLookupTerm struct {
	byKey map[string]*ast.Term // the object, when all its keys are strings
	key   *inputPath
	slow  refTerm
}

func (n nativeLookupTerm) eval(s *state, fr []*ast.Term) (*ast.Term, error) {
	x, ok := s.nativeAt(n.key)
	if !ok {
		return nil, nil
	}
	if str, ok := x.(string); ok {
		return n.byKey[str], nil // Object.Get of a String key
	}
	return n.slow.eval(s, fr)
}

// stringKeyed returns an object constant's members by key when all its keys
// are strings.
func stringKeyed(t *ast.Term) (map[string]*ast.Term, bool) {
	obj, ok := t.Value.(ast.Object)
	if !ok {
		return nil, false
	}
	out := make(map[string]*ast.Term, obj.Len())
	all := true
	obj.Foreach(func(k, v *ast.Term) {
		if s, ok := k.Value.(ast.String); ok {
			out[string(s)] = v
		} else {
			all = false
		}
	})
	return out, all
}

// cidrMatcher is net.cidr_contains_matches with its first operand a
// constant collection of CIDR strings, parsed once: for an operand that is
// an IP address it computes what OPA's implementation computes (the same
// net.ParseCIDR, net.ParseIP and IPNet.Contains), anything else goes to
// OPA's implementation.
func cidrMatcher(coll *ast.Term, opa topdown.BuiltinFunc) (topdown.BuiltinFunc, bool) {
	type entry struct {
		index *ast.Term
		net   *net.IPNet
	}
	var entries []entry
	ok := true
	add := func(index, cidr *ast.Term) {
		s, isStr := cidr.Value.(ast.String)
		if !isStr {
			ok = false
			return
		}
		_, n, err := net.ParseCIDR(string(s))
		if err != nil {
			ok = false
			return
		}
		entries = append(entries, entry{index: index, net: n})
	}
	switch v := coll.Value.(type) {
	case ast.Set:
		v.Foreach(func(x *ast.Term) { add(x, x) })
	case *ast.Array:
		for i := range v.Len() {
			add(ast.InternedTerm(i), v.Elem(i))
		}
	case ast.Object:
		v.Foreach(func(k, x *ast.Term) { add(k, x) })
	default:
		return nil, false
	}
	if !ok {
		return nil, false
	}
	return func(bctx topdown.BuiltinContext, operands []*ast.Term, iter func(*ast.Term) error) error {
		s, isStr := operands[1].Value.(ast.String)
		if !isStr {
			return opa(bctx, operands, iter)
		}
		ip := net.ParseIP(string(s))
		if ip == nil {
			return opa(bctx, operands, iter) // a CIDR, or nothing valid
		}
		result := ast.NewSet()
		for _, e := range entries {
			if e.net.Contains(ip) {
				result.Add(ast.ArrayTerm(e.index, operands[1]))
			}
		}
		return iter(ast.NewTerm(result))
	}, true
}
