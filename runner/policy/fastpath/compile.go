package fastpath

import (
	"errors"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Options say what to compile.
type Options struct {
	// Compiler holds the policy's modules, compiled by OPA.
	Compiler *ast.Compiler
	// Targets are the complete documents to evaluate, e.g.
	// data.risk.rules.card_testing.hit.
	Targets []ast.Ref
	// Constant evaluates, with OPA, a reference into data that does not
	// depend on input: its value, or nil when it is undefined.
	Constant func(ref ast.Ref) (*ast.Term, error)
}

// Compile plans every target; a target outside the fragment gets a
// prefilter or is left to OPA, and says why (Program.Mode).
func Compile(o Options) (*Program, error) {
	if o.Compiler == nil || o.Constant == nil {
		return nil, errors.New("fastpath: Compile needs a compiler and a way to evaluate constants")
	}
	c := &compiler{
		oc:       o.Compiler,
		constant: o.Constant,
		consts:   map[string]*ast.Term{},
		docs:     map[string]*docPlan{},
		funcs:    map[string]*funcPlan{},
		failed:   map[string]error{},
		inputs:   map[string]*inputPath{},
		dynamic:  map[*ast.Rule]bool{},
	}
	p := &Program{caps: o.Compiler.Capabilities()}
	for _, ref := range o.Targets {
		t := &target{ref: ref}
		d, err := c.doc(ref)
		switch {
		case err == nil:
			t.mode, t.doc, t.guards = Compiled, d, guard(d)
		default:
			t.reason = err.Error()
			if t.pre = c.prefixes(ref); t.pre != nil {
				t.mode = Prefiltered
			} else {
				t.mode = OPA
			}
		}
		p.targets = append(p.targets, t)
	}
	p.ninputs, p.nmemo = len(c.inputs), c.nmemo
	return p, nil
}

// unsupported is a construct outside the fragment, where it is written.
type unsupported struct {
	msg string
	loc *ast.Location
}

func (u *unsupported) Error() string {
	if u.loc == nil {
		return u.msg
	}
	return fmt.Sprintf("%s:%d: %s", u.loc.File, u.loc.Row, u.msg)
}

func notSupported(loc *ast.Location, format string, args ...any) error {
	return &unsupported{msg: fmt.Sprintf(format, args...), loc: loc}
}

// errUnbound: a term reads a local not bound at this point.
var errUnbound = errors.New("unbound local")

type compiler struct {
	oc       *ast.Compiler
	constant func(ast.Ref) (*ast.Term, error)
	consts   map[string]*ast.Term // by ref; nil: undefined
	docs     map[string]*docPlan
	funcs    map[string]*funcPlan
	failed   map[string]error // docs and functions that could not be planned
	inputs   map[string]*inputPath
	dynamic  map[*ast.Rule]bool
	nmemo    int
}

// frame counts the locals of one definition (its comprehensions and
// negations included).
type frame struct{ n int }

type bindKind uint8

const (
	bindSlot  bindKind = iota // a local in the frame
	bindInput                 // a name for input at a constant path
	bindConst                 // a name for a constant
)

type binding struct {
	kind bindKind
	slot int
	keys []*ast.Term // bindInput: below input
	t    *ast.Term   // bindConst
}

// scope is what is bound at a point of a body; nested bodies see their
// parents' locals, not the other way round.
type scope struct {
	fr     *frame
	parent *scope
	vars   map[ast.Var]binding
}

func newScope(fr *frame) *scope { return &scope{fr: fr, vars: map[ast.Var]binding{}} }

func (sc *scope) child() *scope {
	return &scope{fr: sc.fr, parent: sc, vars: map[ast.Var]binding{}}
}

func (sc *scope) lookup(v ast.Var) (binding, bool) {
	for s := sc; s != nil; s = s.parent {
		if b, ok := s.vars[v]; ok {
			return b, true
		}
	}
	return binding{}, false
}

func (sc *scope) newSlot(v ast.Var) int {
	slot := sc.fr.n
	sc.fr.n++
	sc.vars[v] = binding{kind: bindSlot, slot: slot}
	return slot
}

// doc plans a complete rule.
func (c *compiler) doc(path ast.Ref) (*docPlan, error) {
	key := path.String()
	if err, ok := c.failed[key]; ok {
		return nil, err
	}
	if d, ok := c.docs[key]; ok {
		if d == nil {
			return nil, notSupported(nil, "%s refers to itself", key)
		}
		return d, nil
	}
	c.docs[key] = nil
	d, err := c.planDoc(path)
	if err != nil {
		delete(c.docs, key)
		c.failed[key] = err
		return nil, err
	}
	c.docs[key] = d
	return d, nil
}

func (c *compiler) planDoc(path ast.Ref) (*docPlan, error) {
	rules := c.oc.GetRulesExact(path)
	if len(rules) == 0 {
		return nil, notSupported(nil, "%s: no rules", path)
	}
	if n := len(c.oc.GetRules(path)); n != len(rules) {
		return nil, notSupported(rules[0].Location, "%s is also defined by rules below it", path)
	}
	d := &docPlan{name: path.String(), memo: -1}
	for _, r := range rules {
		if r.Head.RuleKind() != ast.SingleValue || len(r.Head.Args) > 0 {
			return nil, notSupported(r.Location, "%s is not a complete rule", path)
		}
		def, err := c.defChain(r)
		if err != nil {
			return nil, err
		}
		if r.Default {
			d.dflt = def
		} else {
			d.defs = append(d.defs, def)
		}
	}
	return d, nil
}

// function plans a function of the policy.
func (c *compiler) function(path ast.Ref, loc *ast.Location) (*funcPlan, error) {
	key := path.String()
	if err, ok := c.failed[key]; ok {
		return nil, err
	}
	if f, ok := c.funcs[key]; ok {
		if f == nil {
			return nil, notSupported(loc, "%s refers to itself", key)
		}
		return f, nil
	}
	c.funcs[key] = nil
	f, err := c.planFunc(path, loc)
	if err != nil {
		delete(c.funcs, key)
		c.failed[key] = err
		return nil, err
	}
	c.funcs[key] = f
	return f, nil
}

func (c *compiler) planFunc(path ast.Ref, loc *ast.Location) (*funcPlan, error) {
	rules := c.oc.GetRulesExact(path)
	if len(rules) == 0 {
		return nil, notSupported(loc, "call of %s: not a function of the policy", path)
	}
	f := &funcPlan{name: path.String(), arity: len(rules[0].Head.Args)}
	for _, r := range rules {
		if len(r.Head.Args) != f.arity || f.arity == 0 {
			return nil, notSupported(r.Location, "%s: definitions with different arities", path)
		}
		def, err := c.defChain(r)
		if err != nil {
			return nil, err
		}
		if r.Default {
			f.dflt = def
		} else {
			f.defs = append(f.defs, def)
		}
	}
	return f, nil
}

// defChain plans a definition and its else chain.
func (c *compiler) defChain(r *ast.Rule) (*defPlan, error) {
	first, err := c.def(r)
	if err != nil {
		return nil, err
	}
	cur := first
	for e := r.Else; e != nil; e = e.Else {
		d, err := c.def(e)
		if err != nil {
			return nil, err
		}
		cur.els, cur = d, d
	}
	return first, nil
}

func (c *compiler) def(r *ast.Rule) (*defPlan, error) {
	fr := &frame{}
	sc := newScope(fr)
	d := &defPlan{}
	for _, a := range r.Head.Args {
		p, err := c.pattern(a, sc)
		if err != nil {
			return nil, err
		}
		d.params = append(d.params, p)
	}
	steps, err := c.body(r.Body, sc)
	if err != nil {
		return nil, err
	}
	d.body = &body{steps: steps}
	v := r.Head.Value
	if v == nil {
		v = ast.BooleanTerm(true)
	}
	if d.value, err = c.term(v, sc); err != nil {
		return nil, c.located(err, r.Location)
	}
	d.nslots = fr.n
	return d, nil
}

// prefixes plans, for a target outside the fragment, each body up to its
// first expression outside it; nil when one of them is empty (or the rule
// has a default value), so that nothing can be ruled out.
func (c *compiler) prefixes(path ast.Ref) []*defPlan {
	var out []*defPlan
	for _, r := range c.oc.GetRulesExact(path) {
		if r.Default || len(r.Head.Args) > 0 {
			return nil
		}
		for e := r; e != nil; e = e.Else {
			fr := &frame{}
			sc := newScope(fr)
			var steps []step
			for _, expr := range e.Body {
				st, err := c.expr(expr, sc)
				if err != nil {
					break
				}
				steps = append(steps, st...)
			}
			if len(steps) == 0 {
				return nil
			}
			out = append(out, &defPlan{nslots: fr.n, body: &body{steps: steps}})
		}
	}
	return out
}

func (c *compiler) body(b ast.Body, sc *scope) ([]step, error) {
	var steps []step
	for _, e := range b {
		st, err := c.expr(e, sc)
		if err != nil {
			return nil, err
		}
		steps = append(steps, st...)
	}
	return steps, nil
}

func (c *compiler) located(err error, loc *ast.Location) error {
	var u *unsupported
	if errors.As(err, &u) {
		if u.loc == nil {
			u.loc = loc
		}
		return u
	}
	return &unsupported{msg: err.Error(), loc: loc}
}

// expr plans one expression as zero or more steps.
func (c *compiler) expr(e *ast.Expr, sc *scope) ([]step, error) {
	st, err := c.planExpr(e, sc)
	if err != nil {
		return nil, c.located(err, e.Location)
	}
	return st, nil
}

func (c *compiler) planExpr(e *ast.Expr, sc *scope) ([]step, error) {
	if len(e.With) > 0 {
		return nil, notSupported(e.Location, "`with`")
	}
	if e.Negated {
		inner, err := c.expr(&ast.Expr{Terms: e.Terms, Location: e.Location}, sc.child())
		if err != nil {
			return nil, err
		}
		return []step{notStep{inner: &body{steps: inner}}}, nil
	}
	switch t := e.Terms.(type) {
	case *ast.Term:
		if r, ok := t.Value.(ast.Ref); ok && c.isGen(r, sc) {
			g, err := c.generator(r, sc)
			if err != nil {
				return nil, err
			}
			return []step{g}, nil
		}
		v, err := c.term(t, sc)
		if err != nil {
			return nil, err
		}
		return []step{checkStep{t: v}}, nil
	case []*ast.Term:
		op := e.Operator()
		if op == nil {
			return nil, notSupported(e.Location, "call of a non-reference")
		}
		name := op.String()
		switch {
		case name == ast.Equality.Name || name == ast.Assign.Name:
			if len(t) != 3 {
				return nil, notSupported(e.Location, "%s with %d operands", name, len(t)-1)
			}
			return c.unify(t[1], t[2], sc)
		case op[0].Equal(ast.DefaultRootDocument):
			return c.funcCall(op, t[1:], sc, e.Location)
		}
		if bi, ok := ast.BuiltinMap[name]; ok {
			return c.builtinCall(bi, t[1:], sc, e.Location)
		}
		return nil, notSupported(e.Location, "call of %s", name)
	}
	return nil, notSupported(e.Location, "%s expression", exprKind(e))
}

func exprKind(e *ast.Expr) string {
	switch e.Terms.(type) {
	case *ast.Every:
		return "`every`"
	case *ast.SomeDecl:
		return "`some`"
	case *ast.Not:
		return "`not` with a body"
	}
	return fmt.Sprintf("%T", e.Terms)
}

// comparisons are evaluated in place, as OPA's built-ins compute them.
var comparisons = map[string]cmpOp{
	ast.Equal.Name:         opEqual,
	ast.NotEqual.Name:      opNotEqual,
	ast.LessThan.Name:      opLess,
	ast.LessThanEq.Name:    opLessEq,
	ast.GreaterThan.Name:   opGreater,
	ast.GreaterThanEq.Name: opGreaterEq,
}

// deniedBuiltin: built-ins whose result is not a function of their
// arguments, that have effects, or that OPA treats specially.
func deniedBuiltin(bi *ast.Builtin) bool {
	if bi.Nondeterministic || bi.Decl == nil || bi.Decl.FuncArgs().Variadic != nil {
		return true
	}
	switch bi.Name {
	case ast.Member.Name, ast.MemberWithKey.Name:
		return false
	case "print", "trace", "opa.runtime", "walk", "rego.metadata.chain", "rego.metadata.rule":
		return true
	}
	return strings.HasPrefix(bi.Name, "internal.")
}

func (c *compiler) builtinCall(bi *ast.Builtin, args []*ast.Term, sc *scope, loc *ast.Location) ([]step, error) {
	if deniedBuiltin(bi) {
		return nil, notSupported(loc, "built-in %s", bi.Name)
	}
	fn := topdown.GetBuiltin(bi.Name)
	if fn == nil {
		return nil, notSupported(loc, "built-in %s has no implementation here", bi.Name)
	}
	arity := bi.Decl.Arity()
	var out *ast.Term
	switch {
	case len(args) == arity:
	case len(args) == arity+1 && bi.Decl.Result() != nil:
		out, args = args[arity], args[:arity]
	default:
		return nil, notSupported(loc, "%s with %d operands", bi.Name, len(args))
	}
	terms, err := c.terms(args, sc)
	if err != nil {
		return nil, err
	}
	if steps, ok := c.foldCall(fn, terms, out, bi.Decl.Result() == nil, sc); ok {
		return steps, nil
	}
	if op, ok := comparisons[bi.Name]; ok && out == nil {
		if st, ok := c.nativeCompare(op, terms[0], terms[1]); ok {
			return []step{st}, nil
		}
		return []step{compareStep{op: op, a: terms[0], b: terms[1]}}, nil
	}
	if k, ok := terms[0].(constTerm); ok && k.t != nil && bi.Name == ast.NetCIDRContainsMatches.Name {
		if f, ok := cidrMatcher(k.t, fn); ok {
			fn = f
		}
	}
	st := builtinStep{name: bi.Name, fn: fn, args: terms, void: bi.Decl.Result() == nil}
	if bi.Name == ast.Member.Name && out == nil {
		in, ok1 := terms[0].(inputTerm)
		set, ok2 := terms[1].(constTerm)
		if ok1 && ok2 && set.t != nil {
			if strs, ok := stringSet(set.t); ok {
				return []step{nativeMemberStep{p: in.p, strs: strs, slow: st}}, nil
			}
		}
	}
	if out != nil {
		if c.bound(out, sc) {
			if st.outT, err = c.term(out, sc); err != nil {
				return nil, err
			}
			st.out = valuePat{t: st.outT}
		} else if st.out, err = c.pattern(out, sc); err != nil {
			return nil, err
		}
	}
	return []step{st}, nil
}

func (c *compiler) funcCall(op ast.Ref, args []*ast.Term, sc *scope, loc *ast.Location) ([]step, error) {
	if !op.IsGround() {
		return nil, notSupported(loc, "call of %s: a function chosen per evaluation", op)
	}
	f, err := c.function(op, loc)
	if err != nil {
		return nil, err
	}
	var out *ast.Term
	switch len(args) {
	case f.arity:
	case f.arity + 1:
		out, args = args[f.arity], args[:f.arity]
	default:
		return nil, notSupported(loc, "%s with %d operands", op, len(args))
	}
	terms, err := c.terms(args, sc)
	if err != nil {
		return nil, err
	}
	if steps, ok := c.foldFunc(f, terms, out, sc); ok {
		return steps, nil
	}
	st := funcStep{f: f, args: terms}
	if out != nil {
		if st.out, err = c.pattern(out, sc); err != nil {
			return nil, err
		}
	}
	return []step{st}, nil
}

func (c *compiler) terms(ts []*ast.Term, sc *scope) ([]term, error) {
	out := make([]term, len(ts))
	for i, t := range ts {
		v, err := c.term(t, sc)
		if err != nil {
			if errors.Is(err, errUnbound) {
				return nil, notSupported(t.Location, "operand %v is not bound", t)
			}
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// unify plans `a = b`.
func (c *compiler) unify(a, b *ast.Term, sc *scope) ([]step, error) {
	if r, ok := b.Value.(ast.Ref); ok && c.isGen(r, sc) {
		return c.genUnify(r, a, sc)
	}
	if r, ok := a.Value.(ast.Ref); ok && c.isGen(r, sc) {
		return c.genUnify(r, b, sc)
	}
	if st, ok, err := c.alias(a, b, sc); ok || err != nil {
		return st, err
	}
	if st, ok, err := c.alias(b, a, sc); ok || err != nil {
		return st, err
	}
	switch {
	case c.bound(b, sc):
		val, err := c.term(b, sc)
		if err != nil {
			return nil, err
		}
		if k, ok := val.(constTerm); ok {
			// A value known while planning (a folded comprehension, say):
			// a fresh local becomes a name for it.
			if name, fresh := c.freshOutput(a, sc); fresh {
				if k.t == nil {
					return []step{failStep{}}, nil
				}
				sc.vars[name] = binding{kind: bindConst, t: k.t}
				return nil, nil
			}
		}
		pat, err := c.pattern(a, sc)
		if err != nil {
			return nil, err
		}
		if vp, ok := pat.(valuePat); ok {
			if st, ok := c.nativeCompare(opEqual, val, vp.t); ok {
				return []step{st}, nil
			}
		}
		return []step{unifyStep{val: val, pat: pat}}, nil
	case c.bound(a, sc):
		return c.unify(b, a, sc)
	}
	// [x, 1] = [2, y]: element by element, as OPA unifies arrays.
	x, ok1 := a.Value.(*ast.Array)
	y, ok2 := b.Value.(*ast.Array)
	if ok1 && ok2 {
		if x.Len() != y.Len() {
			return []step{failStep{}}, nil
		}
		var steps []step
		for i := range x.Len() {
			st, err := c.unify(x.Elem(i), y.Elem(i), sc)
			if err != nil {
				return nil, err
			}
			steps = append(steps, st...)
		}
		return steps, nil
	}
	return nil, notSupported(a.Location, "unification of %v with %v", a, b)
}

// alias handles `v = ref` where v is not bound and ref is input at a
// constant path or a constant: v becomes a name for it, so that refs
// through v read input or the constant directly.
func (c *compiler) alias(v, r *ast.Term, sc *scope) ([]step, bool, error) {
	name, ok := v.Value.(ast.Var)
	if !ok || c.isRoot(name) {
		return nil, false, nil
	}
	if _, bound := sc.lookup(name); bound {
		return nil, false, nil
	}
	if ast.IsConstant(r.Value) {
		sc.vars[name] = binding{kind: bindConst, t: r}
		return nil, true, nil
	}
	ref, ok := r.Value.(ast.Ref)
	if !ok {
		return nil, false, nil
	}
	rp, err := c.refBase(ref, sc)
	if err != nil {
		return nil, true, err
	}
	if len(rp.keys) > 0 {
		return nil, false, nil
	}
	switch {
	case rp.undefined:
		return []step{failStep{}}, true, nil
	case rp.native:
		sc.vars[name] = binding{kind: bindInput, keys: rp.prefix}
		if len(rp.prefix) == 0 {
			return nil, true, nil // input is always defined
		}
		return []step{definedStep{p: c.inputPath(rp.prefix)}}, true, nil
	}
	if ct, ok := rp.base.(constTerm); ok {
		sc.vars[name] = binding{kind: bindConst, t: ct.t}
		return nil, true, nil
	}
	return nil, false, nil
}

func (c *compiler) isRoot(v ast.Var) bool {
	return v.Equal(ast.InputRootDocument.Value) || v.Equal(ast.DefaultRootDocument.Value)
}

// bound tells whether every local t reads is bound in sc.
func (c *compiler) bound(t *ast.Term, sc *scope) bool {
	_, err := c.term(t, sc.child())
	return !errors.Is(err, errUnbound)
}

// pattern plans the side of a unification that may bind locals.
func (c *compiler) pattern(t *ast.Term, sc *scope) (pattern, error) {
	if c.bound(t, sc) {
		v, err := c.term(t, sc)
		if err != nil {
			return nil, err
		}
		return valuePat{t: v}, nil
	}
	switch v := t.Value.(type) {
	case ast.Var:
		return bindPat{slot: sc.newSlot(v)}, nil
	case *ast.Array:
		p := arrayPat{elems: make([]pattern, v.Len())}
		for i := range v.Len() {
			e, err := c.pattern(v.Elem(i), sc)
			if err != nil {
				return nil, err
			}
			p.elems[i] = e
		}
		return p, nil
	case ast.Object:
		var p objectPat
		var err error
		v.Foreach(func(k, val *ast.Term) {
			if err != nil {
				return
			}
			if !ast.IsScalar(k.Value) {
				err = notSupported(t.Location, "object pattern with key %v", k)
				return
			}
			var e pattern
			if e, err = c.pattern(val, sc); err == nil {
				p.keys, p.vals = append(p.keys, k), append(p.vals, e)
			}
		})
		if err != nil {
			return nil, err
		}
		return p, nil
	}
	return nil, notSupported(t.Location, "pattern %v", t)
}

// term plans a term whose locals are all bound.
func (c *compiler) term(t *ast.Term, sc *scope) (term, error) {
	switch v := t.Value.(type) {
	case ast.Null, ast.Boolean, ast.Number, ast.String:
		return constTerm{t: t}, nil
	case ast.Var:
		if c.isRoot(v) {
			return c.term(ast.NewTerm(ast.Ref{t}), sc)
		}
		b, ok := sc.lookup(v)
		if !ok {
			return nil, errUnbound
		}
		return c.bindingTerm(v, b), nil
	case ast.Ref:
		if c.isGen(v, sc) {
			return nil, errUnbound
		}
		return c.refTerm(v, sc)
	case *ast.Array:
		if ast.IsConstant(v) {
			return constTerm{t: t}, nil
		}
		elems := make([]*ast.Term, v.Len())
		for i := range v.Len() {
			elems[i] = v.Elem(i)
		}
		ts, err := c.termsOrUnbound(elems, sc)
		if err != nil {
			return nil, err
		}
		return arrayTerm{elems: ts}, nil
	case ast.Set:
		if ast.IsConstant(v) {
			return constTerm{t: t}, nil
		}
		ts, err := c.termsOrUnbound(v.Slice(), sc)
		if err != nil {
			return nil, err
		}
		return setTerm{elems: ts}, nil
	case ast.Object:
		if ast.IsConstant(v) {
			return constTerm{t: t}, nil
		}
		var o objectTerm
		var err error
		v.Foreach(func(k, val *ast.Term) {
			if err != nil {
				return
			}
			var kt, vt term
			if kt, err = c.term(k, sc); err != nil {
				return
			}
			if vt, err = c.term(val, sc); err != nil {
				return
			}
			o.keys, o.vals = append(o.keys, kt), append(o.vals, vt)
		})
		if err != nil {
			return nil, err
		}
		return o, nil
	case *ast.ArrayComprehension:
		return c.comprehension(sinkArray, v.Body, nil, v.Term, sc)
	case *ast.SetComprehension:
		return c.comprehension(sinkSet, v.Body, nil, v.Term, sc)
	case *ast.ObjectComprehension:
		return c.comprehension(sinkObject, v.Body, v.Key, v.Value, sc)
	}
	return nil, notSupported(t.Location, "term %v (%T)", t, t.Value)
}

// comprehension plans a comprehension: its body in a scope of its own, then
// its head (a key for objects only) in that scope.
func (c *compiler) comprehension(kind sinkKind, b ast.Body, key, value *ast.Term, sc *scope) (term, error) {
	child := sc.child()
	steps, err := c.body(b, child)
	if err != nil {
		return nil, err
	}
	ct := comprTerm{kind: kind, body: &body{steps: steps}}
	if key != nil {
		if ct.key, err = c.term(key, child); err != nil {
			return nil, err
		}
	}
	if ct.value, err = c.term(value, child); err != nil {
		return nil, err
	}
	return c.foldTerm(ct, sc), nil
}

func (c *compiler) termsOrUnbound(ts []*ast.Term, sc *scope) ([]term, error) {
	out := make([]term, len(ts))
	for i, t := range ts {
		v, err := c.term(t, sc)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (c *compiler) bindingTerm(name ast.Var, b binding) term {
	switch b.kind {
	case bindInput:
		if len(b.keys) == 0 {
			return wholeInputTerm{}
		}
		return inputTerm{p: c.inputPath(b.keys)}
	case bindConst:
		return constTerm{t: b.t}
	}
	return varTerm{slot: b.slot, name: name}
}

// inputPath registers a constant path below input for caching.
func (c *compiler) inputPath(keys []*ast.Term) *inputPath {
	key := ast.Ref(keys).String()
	if p, ok := c.inputs[key]; ok {
		return p
	}
	p := &inputPath{slot: len(c.inputs), keys: keys}
	c.inputs[key] = p
	return p
}

// refPlan is where a reference starts and what is left to look up.
type refPlan struct {
	native    bool        // it starts in input, at prefix
	prefix    []*ast.Term // native: constant keys below input
	base      term        // !native: the value the keys apply to
	keys      []*ast.Term // the keys left, as written
	undefined bool        // a constant part is undefined
}

// refBase resolves the head of a reference and as many keys as can be
// resolved while planning.
func (c *compiler) refBase(ref ast.Ref, sc *scope) (refPlan, error) {
	head, ok := ref[0].Value.(ast.Var)
	if !ok {
		return refPlan{}, notSupported(ref[0].Location, "reference into %v", ref[0])
	}
	rest := ref[1:]
	constKeys := func(keys []*ast.Term) int {
		n := 0
		for n < len(keys) && ast.IsScalar(keys[n].Value) {
			n++
		}
		return n
	}
	switch {
	case head.Equal(ast.InputRootDocument.Value):
		n := constKeys(rest)
		return refPlan{native: true, prefix: rest[:n:n], keys: rest[n:]}, nil
	case head.Equal(ast.DefaultRootDocument.Value):
		return c.dataBase(ref)
	}
	b, ok := sc.lookup(head)
	if !ok {
		return refPlan{}, errUnbound
	}
	switch b.kind {
	case bindInput:
		n := constKeys(rest)
		prefix := append(append([]*ast.Term{}, b.keys...), rest[:n]...)
		return refPlan{native: true, prefix: prefix, keys: rest[n:]}, nil
	case bindConst:
		t := b.t
		n := constKeys(rest)
		for _, k := range rest[:n] {
			if t = t.Get(k); t == nil {
				return refPlan{undefined: true}, nil
			}
		}
		return refPlan{base: constTerm{t: t}, keys: rest[n:]}, nil
	}
	return refPlan{base: varTerm{slot: b.slot, name: head}, keys: rest}, nil
}

// dataBase resolves a reference into data: a constant (base data, or
// rules that do not depend on input, evaluated by OPA now), or the value of
// a complete rule that depends on input, then keys.
func (c *compiler) dataBase(ref ast.Ref) (refPlan, error) {
	n := 1
	for n < len(ref) {
		if _, ok := ref[n].Value.(ast.String); !ok {
			break
		}
		n++
	}
	if n == 1 {
		return refPlan{}, notSupported(ref[0].Location, "reference %v into data chosen per evaluation", ref)
	}
	prefix, keys := ref[:n], ref[n:]
	rules := c.oc.GetRules(prefix)
	if len(rules) == 0 || !c.dynamicRules(rules) {
		t, err := c.constantOf(prefix)
		if err != nil {
			return refPlan{}, err
		}
		if t == nil {
			return refPlan{undefined: true}, nil
		}
		return refPlan{base: constTerm{t: t}, keys: keys}, nil
	}
	for i := 2; i <= n; i++ {
		exact := c.oc.GetRulesExact(prefix[:i])
		if len(exact) == 0 {
			continue
		}
		d, err := c.doc(prefix[:i])
		if err != nil {
			return refPlan{}, err
		}
		if d.memo < 0 {
			d.memo = c.nmemo
			c.nmemo++
		}
		return refPlan{base: docTerm{d: d}, keys: append(append([]*ast.Term{}, prefix[i:]...), keys...)}, nil
	}
	return refPlan{}, notSupported(ref[0].Location, "reference %v into rules that read input", prefix)
}

func (c *compiler) constantOf(ref ast.Ref) (*ast.Term, error) {
	key := ref.String()
	if t, ok := c.consts[key]; ok {
		return t, nil
	}
	t, err := c.constant(ref)
	if err != nil {
		return nil, notSupported(ref[0].Location, "evaluating %v: %v", ref, err)
	}
	c.consts[key] = t
	return t, nil
}

// refTerm plans a reference with no key to iterate.
func (c *compiler) refTerm(ref ast.Ref, sc *scope) (term, error) {
	rp, err := c.refBase(ref, sc)
	if err != nil {
		return nil, err
	}
	if rp.undefined {
		return constTerm{t: nil}, nil
	}
	keys, err := c.termsOrUnbound(rp.keys, sc)
	if err != nil {
		return nil, err
	}
	if rp.native {
		switch {
		case len(keys) > 0:
			return nativeRefTerm{prefix: rp.prefix, keys: keys}, nil
		case len(rp.prefix) == 0:
			return wholeInputTerm{}, nil
		}
		return inputTerm{p: c.inputPath(rp.prefix)}, nil
	}
	if len(keys) == 0 {
		return rp.base, nil
	}
	if k, ok := rp.base.(constTerm); ok && k.t != nil {
		if in, ok := keys[0].(inputTerm); ok {
			if byKey, ok := stringKeyed(k.t); ok {
				var t term = nativeLookupTerm{byKey: byKey, key: in.p, slow: refTerm{base: rp.base, keys: keys[:1]}}
				if len(keys) > 1 {
					t = refTerm{base: t, keys: keys[1:]}
				}
				return t, nil
			}
		}
	}
	return refTerm{base: rp.base, keys: keys}, nil
}

// isGen tells whether a reference has a key that is a local not bound yet:
// evaluating it iterates.
func (c *compiler) isGen(ref ast.Ref, sc *scope) bool {
	for _, k := range ref[1:] {
		if v, ok := k.Value.(ast.Var); ok {
			if _, bound := sc.lookup(v); !bound {
				return true
			}
		}
	}
	return false
}

// generator plans an iterated reference; the keys it iterates become bound.
func (c *compiler) generator(ref ast.Ref, sc *scope) (genStep, error) {
	rp, err := c.refBase(ref, sc)
	if err != nil {
		return genStep{}, err
	}
	var g genStep
	switch {
	case rp.undefined:
		g.base = constTerm{t: nil}
	case rp.native && len(rp.prefix) == 0:
		g.base = wholeInputTerm{}
	case rp.native:
		g.base = inputTerm{p: c.inputPath(rp.prefix)}
	default:
		g.base = rp.base
	}
	for _, k := range rp.keys {
		if v, ok := k.Value.(ast.Var); ok {
			if _, bound := sc.lookup(v); !bound {
				g.keys = append(g.keys, genKey{slot: sc.newSlot(v)})
				continue
			}
		}
		t, err := c.term(k, sc)
		if err != nil {
			if errors.Is(err, errUnbound) {
				return genStep{}, notSupported(k.Location, "iteration with key %v", k)
			}
			return genStep{}, err
		}
		g.keys = append(g.keys, genKey{t: t})
	}
	return g, nil
}

func (c *compiler) genUnify(ref ast.Ref, other *ast.Term, sc *scope) ([]step, error) {
	g, err := c.generator(ref, sc)
	if err != nil {
		return nil, err
	}
	if g.pat, err = c.pattern(other, sc); err != nil {
		return nil, err
	}
	return []step{g}, nil
}

// dynamicRules tells whether any of the rules depends on input (or on
// anything else that changes between evaluations).
func (c *compiler) dynamicRules(rules []*ast.Rule) bool {
	for _, r := range rules {
		if c.dynamicRule(r) {
			return true
		}
	}
	return false
}

func (c *compiler) dynamicRule(r *ast.Rule) bool {
	if d, ok := c.dynamic[r]; ok {
		return d
	}
	c.dynamic[r] = true // while in progress; Rego has no recursion
	d := false
	for x := r; x != nil && !d; x = x.Else {
		d = c.dynamicNode(x)
	}
	c.dynamic[r] = d
	return d
}

func (c *compiler) dynamicNode(r *ast.Rule) bool {
	dyn := false
	ast.WalkExprs(r, func(e *ast.Expr) bool {
		if len(e.With) > 0 {
			dyn = true
		} else if e.IsCall() {
			if bi, ok := ast.BuiltinMap[e.Operator().String()]; ok && bi.Nondeterministic {
				dyn = true
			}
		}
		return dyn
	})
	if dyn {
		return true
	}
	ast.WalkRefs(r, func(ref ast.Ref) bool {
		switch {
		case dyn:
		case ref[0].Equal(ast.InputRootDocument):
			dyn = true
		case ref[0].Equal(ast.DefaultRootDocument):
			for _, x := range c.oc.GetRulesDynamicWithOpts(ref, ast.RulesOptions{IncludeHiddenModules: true}) {
				if c.dynamicRule(x) {
					dyn = true
					break
				}
			}
		}
		return dyn
	})
	return dyn
}
