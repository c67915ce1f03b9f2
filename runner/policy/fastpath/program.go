package fastpath

import (
	"context"
	"fmt"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/builtins"
)

// Mode says how much of a target the program evaluates itself.
type Mode uint8

const (
	// Compiled targets are evaluated entirely in Go.
	Compiled Mode = iota + 1
	// Prefiltered targets are evaluated by OPA, but only on records for
	// which a prefix of one of their bodies can succeed.
	Prefiltered
	// OPA targets are evaluated by OPA on every record.
	OPA
)

func (m Mode) String() string {
	switch m {
	case Compiled:
		return "compiled"
	case Prefiltered:
		return "prefiltered"
	case OPA:
		return "opa"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// State is what the program found out about a target on one input.
type State uint8

const (
	// NotFired: the target is undefined.
	NotFired State = iota
	// Fired: the target is defined; Outcome.Value is its value.
	Fired
	// NeedsOPA: ask OPA.
	NeedsOPA
)

// Outcome is a target's result on one input.
type Outcome struct {
	State State
	Value *ast.Term // when Fired
	Err   error     // when a compiled target needs OPA after all: why
}

// Program is the compiled plan of every target. It is immutable and safe
// for concurrent use.
type Program struct {
	targets []*target
	ninputs int // constant input paths, cached per evaluation
	nmemo   int // complete rules that depend on input, memoised per evaluation
	caps    *ast.Capabilities
	pool    sync.Pool // *state
}

// target is one document the program decides, in one of the three modes.
type target struct {
	ref    ast.Ref
	mode   Mode
	doc    *docPlan   // Compiled
	pre    []*defPlan // Prefiltered: body prefixes (no value)
	reason string     // why not Compiled: the first construct not understood, file:line
	guards [][]step   // per definition, the checks it starts with (see guard)
}

// Len is the number of targets.
func (p *Program) Len() int { return len(p.targets) }

// Mode tells how target i is evaluated and, unless it is Compiled, why.
func (p *Program) Mode(i int) (Mode, string) { return p.targets[i].mode, p.targets[i].reason }

// Eval evaluates every target on doc; out must have Len() elements. It
// never fails: what it cannot decide comes back as NeedsOPA.
func (p *Program) Eval(ctx context.Context, doc Doc, out []Outcome) {
	s := p.get(ctx, doc)
	for i := 0; i < len(p.targets); {
		i = p.evalFrom(s, out, i)
	}
	p.put(s)
}

// evalFrom evaluates the targets from i on and returns where it stopped: at
// the end, or after a target whose evaluation panicked (a built-in that
// wanted more context than the evaluator gives it), which OPA will decide.
func (p *Program) evalFrom(s *state, out []Outcome, i int) (next int) {
	next = i
	defer func() {
		if r := recover(); r != nil {
			out[next] = Outcome{State: NeedsOPA, Err: fmt.Errorf("%s: panic: %v", p.targets[next].ref, r)}
			next++
		}
	}()
	for ; next < len(p.targets); next++ {
		out[next] = p.targets[next].eval(s)
	}
	return next
}

func (t *target) eval(s *state) Outcome {
	s.reset()
	if t.guards != nil && !t.guarded(s) {
		return Outcome{State: NotFired}
	}
	switch t.mode {
	case Compiled:
		v, err := t.doc.value(s)
		switch {
		case err != nil:
			return Outcome{State: NeedsOPA, Err: err}
		case v == nil:
			return Outcome{State: NotFired}
		}
		return Outcome{State: Fired, Value: v}
	case Prefiltered:
		for _, d := range t.pre {
			ok, err := d.possible(s)
			if err != nil || ok {
				return Outcome{State: NeedsOPA, Err: err}
			}
		}
		return Outcome{State: NotFired}
	}
	return Outcome{State: NeedsOPA}
}

// guarded tells whether some definition's first checks hold: when none
// does, no body can succeed, nor fail with an error.
func (t *target) guarded(s *state) bool {
	for _, g := range t.guards {
		if holds(s, g) {
			return true
		}
	}
	return false
}

// holds evaluates checks that bind nothing; a check it cannot settle here
// counts as holding.
func holds(s *state, checks []step) bool {
	for _, c := range checks {
		switch c := c.(type) {
		case definedStep:
			if _, ok := s.nativeAt(c.p); !ok {
				return false
			}
		case nativeCmpStep:
			ok, err := c.test(s)
			if err != nil {
				return true
			}
			if !ok {
				return false
			}
		case nativeMemberStep:
			if in, known := c.test(s); known && !in {
				return false
			}
		}
	}
	return true
}

// guard collects, for a compiled rule, the checks each definition begins
// with; nil when some definition begins with anything else (or there is a
// default), so that every evaluation goes to the rule itself.
func guard(d *docPlan) [][]step {
	if d.dflt != nil {
		return nil
	}
	var out [][]step
	for _, def := range d.defs {
		for e := def; e != nil; e = e.els {
			var checks []step
		leading:
			for _, st := range e.body.steps {
				switch st.(type) {
				case definedStep, nativeCmpStep, nativeMemberStep:
					checks = append(checks, st)
				default:
					break leading // only the leading checks: a later one may come after an error
				}
			}
			if len(checks) == 0 {
				return nil
			}
			out = append(out, checks)
		}
	}
	return out
}

// state is everything one evaluation needs; pooled, one per goroutine at a
// time.
type state struct {
	ctx     context.Context
	doc     Doc
	inputs  []*ast.Term // constant input paths, converted on first use
	natives []any       // the same paths' Go values, looked up on first use
	looked  []uint8     // lookedNot, lookedFound, lookedMissing
	static  bool        // planning: anything read from the record stops the evaluation
	memo    []memo      // complete rules, evaluated on first use
	whole   *ast.Term   // input itself, when a rule reads it

	stack []*ast.Term // frames of locals
	top   int
	sinks []sink // where solutions go; a stack like the frames
	nsink int
	undo  []undoEntry // bindings to take back on backtracking
	ops   []*ast.Term // operands of calls in progress
	outs  []*ast.Term // outputs of built-in calls in progress

	bctx    topdown.BuiltinContext
	collect func(*ast.Term) error // s.collectOutput, bound once
}

type memo struct {
	done bool
	t    *ast.Term
	err  error
}

type undoEntry struct {
	fr   []*ast.Term
	slot int
}

func (p *Program) get(ctx context.Context, doc Doc) *state {
	s, _ := p.pool.Get().(*state)
	if s == nil {
		s = &state{
			inputs:  make([]*ast.Term, p.ninputs),
			natives: make([]any, p.ninputs),
			looked:  make([]uint8, p.ninputs),
			memo:    make([]memo, p.nmemo),
			stack:   make([]*ast.Term, 256),
			sinks:   make([]sink, 16),
		}
		s.collect = s.collectOutput
		s.bctx.Cache = builtins.Cache{}
		s.bctx.Capabilities = p.caps
	}
	s.ctx, s.doc = ctx, doc
	s.bctx.Context = ctx
	return s
}

func (p *Program) put(s *state) {
	clear(s.inputs)
	clear(s.natives)
	clear(s.looked)
	clear(s.memo)
	clear(s.stack[:min(len(s.stack), 1024)]) // let this record's values go
	s.whole, s.doc, s.ctx, s.bctx.Context = nil, nil, nil, nil
	if len(s.bctx.Cache) > 0 {
		clear(s.bctx.Cache)
	}
	p.pool.Put(s)
}

// reset forgets what a failed target left on the stacks.
func (s *state) reset() {
	s.top, s.nsink = 0, 0
	s.undo, s.ops, s.outs = s.undo[:0], s.ops[:0], s.outs[:0]
}

// push returns a cleared frame of n locals. Frames are taken from a slab;
// when it runs out a bigger one is made and frames already handed out keep
// their old backing array.
func (s *state) push(n int) []*ast.Term {
	if s.top+n > len(s.stack) {
		s.stack = make([]*ast.Term, max(2*len(s.stack), s.top+n))
	}
	fr := s.stack[s.top : s.top+n : s.top+n]
	clear(fr)
	s.top += n
	return fr
}

func (s *state) pop(n int) { s.top -= n }

// pushSink returns a fresh sink on the sink stack.
func (s *state) pushSink(kind sinkKind) *sink {
	if s.nsink == len(s.sinks) {
		s.sinks = make([]sink, 2*len(s.sinks)) // sinks handed out keep the old array
	}
	k := &s.sinks[s.nsink]
	s.nsink++
	*k = sink{kind: kind}
	return k
}

func (s *state) popSink() { s.nsink-- }

// bind sets a local and remembers to take it back.
func (s *state) bind(fr []*ast.Term, slot int, t *ast.Term) {
	fr[slot] = t
	s.undo = append(s.undo, undoEntry{fr: fr, slot: slot})
}

// unbind takes back the bindings made since mark.
func (s *state) unbind(mark int) {
	for i := len(s.undo) - 1; i >= mark; i-- {
		u := s.undo[i]
		u.fr[u.slot] = nil
	}
	s.undo = s.undo[:mark]
}

func (s *state) collectOutput(t *ast.Term) error {
	s.outs = append(s.outs, t)
	return nil
}
