package feature

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-risk/vigil/runner/record"
)

// Options tune an Engine. Zero values take the defaults.
type Options struct {
	// Lateness is how far behind the watermark a contribution may be and
	// still be applied; default 5m. A feature's lateness overrides it.
	Lateness time.Duration
	// DedupHorizon is how long (in event time) a record id is remembered
	// to refuse a duplicate; default: the largest lateness of any feature,
	// since a duplicate older than that would be late anyway.
	DedupHorizon time.Duration
	// DedupCap bounds the ids remembered; default 1<<20. Past it the
	// oldest are forgotten first.
	DedupCap int
	// MaxBuckets bounds the buckets of one entity's series; default 128.
	// Past it, the adjacent pair with the smallest combined span is merged.
	MaxBuckets int
	// DistinctExact is how many distinct values a distinct series counts
	// exactly before it turns to HyperLogLog sketches; default 64.
	DistinctExact int
	// Registerer receives the engine's metrics; nil: no metrics.
	Registerer prometheus.Registerer
	// Logger; nil: slog.DiscardHandler.
	Logger *slog.Logger

	// noDistinctView (tests) makes distinct series merge their buckets on
	// every read, as they did before their views, to compare with.
	noDistinctView bool
}

// Defaults of Options.
const (
	DefaultLateness      = 5 * time.Minute
	DefaultDedupCap      = 1 << 20
	DefaultMaxBuckets    = 128
	DefaultDistinctExact = 64
)

func (o Options) withDefaults() Options {
	if o.Lateness <= 0 {
		o.Lateness = DefaultLateness
	}
	if o.DedupCap <= 0 {
		o.DedupCap = DefaultDedupCap
	}
	if o.MaxBuckets <= 0 {
		o.MaxBuckets = DefaultMaxBuckets
	}
	if o.DistinctExact <= 0 {
		o.DistinctExact = DefaultDistinctExact
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

func (o Options) limits() limits {
	return limits{lateness: o.Lateness, maxBuckets: o.MaxBuckets, distinctExact: o.DistinctExact, dedupHorizon: o.DedupHorizon, noDistinctView: o.noDistinctView}
}

// Outcome says what Apply did with a record.
type Outcome struct {
	// Duplicate: the record's id was applied before, within the dedup
	// horizon; nothing was applied.
	Duplicate bool
	// Applied counts the contributions added to the state.
	Applied int
	// Late counts the contributions left out because they were older than
	// the watermark minus their lateness.
	Late int
}

// Engine computes the features of records in the stream, by event time,
// and keeps their state in a Store. Apply may be called from many
// goroutines at once; records of one entity must be applied in order by the
// caller (the same records in the same order give the same values).
type Engine struct {
	opts  Options
	store Store
	log   *slog.Logger
	plan  atomic.Pointer[plan]
	dedup *dedupSet
	pool  sync.Pool // *scratch

	// gate is held shared by Apply and Read, exclusively by Snapshot,
	// Restore and Reconfigure, so that those see and leave a consistent
	// state.
	gate sync.RWMutex
	wm   atomic.Int64 // watermark: the latest event time applied, unix ns

	late, duplicates atomic.Uint64
}

// NewEngine returns an engine for specs over store (nil: a MemoryStore with
// default options). It registers its metrics with opts.Registerer.
func NewEngine(specs *Specs, store Store, opts Options) (*Engine, error) {
	if specs == nil {
		return nil, errors.New("feature: NewEngine needs specs")
	}
	opts = opts.withDefaults()
	if store == nil {
		store = NewMemoryStore(MemoryOptions{})
	}
	e := &Engine{opts: opts, store: store, log: opts.Logger, dedup: newDedupSet(opts.DedupCap)}
	e.wm.Store(minTime)
	e.plan.Store(compile(specs, opts.limits()))
	if opts.Registerer != nil {
		if err := e.register(opts.Registerer); err != nil {
			return nil, fmt.Errorf("feature: registering metrics: %w", err)
		}
	}
	return e, nil
}

// Specs returns the specs in force.
func (e *Engine) Specs() *Specs { return e.plan.Load().specs }

// Watermark is the latest event time applied (zero before any).
func (e *Engine) Watermark() time.Time {
	wm := e.wm.Load()
	if wm == minTime {
		return time.Time{}
	}
	return time.Unix(0, wm).UTC()
}

// Stats are the engine's counters.
type Stats struct {
	Watermark  time.Time
	Late       uint64 // contributions not applied because they were late
	Duplicates uint64 // records not applied because their id was seen
	Store      StoreStats
}

func (e *Engine) Stats() Stats {
	return Stats{Watermark: e.Watermark(), Late: e.late.Load(), Duplicates: e.duplicates.Load(), Store: e.store.Stats()}
}

// Apply adds the record's contributions to the state — unless the record
// is a duplicate, or a contribution is late — and returns every feature
// defined for the record as of its event time t: a feature reads the
// contributions at times in (t − delay − window, t − delay], so the record
// itself counts when it matches the filter and delay is 0. Values are
// float64 (counts too), or the field's own value for last. A feature is
// absent when the record lacks its entity, or when its aggregate is
// undefined (avg of nothing, ...) and it has no default.
//
// A record without an id is never taken for a duplicate. A record whose
// event time is outside the years 1700–2199 changes nothing and has no
// features.
func (e *Engine) Apply(rec record.Record) (map[string]any, Outcome) {
	e.gate.RLock()
	defer e.gate.RUnlock()
	var out Outcome
	p := e.plan.Load()
	t, ok := eventTime(rec.Time)
	if !ok {
		return map[string]any{}, out
	}
	if rec.ID != "" && e.dedup.seen(rec.ID, t, e.wm.Load(), p.dedupHorizon) {
		out.Duplicate = true
		e.duplicates.Add(1)
		return e.read(p, rec.Fields, t), out
	}
	wm := e.advance(t)
	sc := e.scratch(p)
	defer e.pool.Put(sc)
	sc.t, sc.wm = t, wm
	for _, k := range p.kinds {
		key, ok := k.key(sc.key, rec.Fields)
		sc.key = key
		if !ok {
			continue
		}
		sc.k = k
		n := 0
		for j, sp := range k.series {
			c := &sc.contrib[j]
			has := sp.contribution(rec.Fields, t, c)
			if has && c.at < before(wm, sp.lateness) {
				has = false
				out.Late++
			}
			sc.has[j] = has
			if has {
				n++
			}
		}
		if n > 0 {
			e.store.Update(key, wm, sc.applyFn)
			out.Applied += n
		} else if !e.store.View(key, sc.viewFn) {
			sc.readAllEmpty()
		}
	}
	if out.Late > 0 {
		e.late.Add(uint64(out.Late))
	}
	return sc.output(p), out
}

// Read returns the record's features as of its event time from the state as
// it is, without applying the record (it does not count itself) and
// without checking its id.
func (e *Engine) Read(rec record.Record) map[string]any {
	e.gate.RLock()
	defer e.gate.RUnlock()
	t, ok := eventTime(rec.Time)
	if !ok {
		return map[string]any{}
	}
	return e.read(e.plan.Load(), rec.Fields, t)
}

func (e *Engine) read(p *plan, fields map[string]any, t int64) map[string]any {
	sc := e.scratch(p)
	defer e.pool.Put(sc)
	sc.t, sc.wm = t, e.wm.Load()
	for _, k := range p.kinds {
		key, ok := k.key(sc.key, fields)
		sc.key = key
		if !ok {
			continue
		}
		sc.k = k
		if !e.store.View(key, sc.viewFn) {
			sc.readAllEmpty()
		}
	}
	return sc.output(p)
}

// advance raises the watermark to t and returns it.
func (e *Engine) advance(t int64) int64 {
	for {
		wm := e.wm.Load()
		if t <= wm {
			return wm
		}
		if e.wm.CompareAndSwap(wm, t) {
			return t
		}
	}
}

// Sweep deletes every entity whose state has expired at the watermark and
// returns how many. The memory store also sweeps a little on every update;
// this sweeps everything at once (after a restore, or on a timer).
func (e *Engine) Sweep() int {
	e.gate.RLock()
	defer e.gate.RUnlock()
	return e.store.Sweep(e.wm.Load())
}

// Reconfigure puts new specs in force over the same state: a series whose
// definition is unchanged keeps its state; state of series that are gone is
// dropped as its entities are next updated or expire.
func (e *Engine) Reconfigure(specs *Specs) {
	np := compile(specs, e.opts.limits())
	e.gate.Lock()
	old := e.plan.Swap(np)
	e.gate.Unlock()
	kept := 0
	for id := range np.series {
		if _, ok := old.series[id]; ok {
			kept++
		}
	}
	e.log.Info("feature specs reconfigured", "features", len(specs.Features), "series", len(np.series),
		"series_kept", kept, "series_new", len(np.series)-kept, "series_dropped", len(old.series)-kept, "specs_hash", specs.Hash())
}

// scratch is the per-call working memory of Apply and Read, pooled so that
// a call allocates nothing but its result.
type scratch struct {
	p        *plan
	k        *kindPlan
	t, wm    int64
	key      []byte
	contrib  []contribution // per series of k
	has      []bool         // per series of k: contrib holds a contribution to apply
	vals     []value        // per feature
	distinct hashCounter
	regs     hllRegs
	// mutable: reads may update the series' derived views (inside
	// Store.Update; not inside Store.View, which must leave the entity be).
	mutable bool

	applyFn, viewFn func(*Entity) // method values bound once, so passing them allocates nothing
}

func (e *Engine) scratch(p *plan) *scratch {
	sc, _ := e.pool.Get().(*scratch)
	if sc == nil {
		sc = &scratch{key: make([]byte, 0, 64)}
		sc.applyFn, sc.viewFn = sc.apply, sc.view
	}
	if sc.p != p {
		sc.p = p
		sc.contrib = make([]contribution, p.maxSeries)
		sc.has = make([]bool, p.maxSeries)
		sc.vals = make([]value, len(p.names))
	}
	clear(sc.vals) // every feature starts as notRead
	return sc
}

// apply runs inside Store.Update: forget what fell out of retention (and
// series the specs no longer have), add the contributions, read.
func (sc *scratch) apply(ent *Entity) {
	k := sc.k
	kept := ent.slots[:0]
	for _, sl := range ent.slots {
		sp := k.seriesByID(sl.id)
		if sp == nil || !sl.s.prune(before(sc.wm, sp.retention)) {
			continue
		}
		kept = append(kept, sl)
	}
	clear(ent.slots[len(kept):])
	ent.slots = kept
	for j, sp := range k.series {
		if !sc.has[j] {
			continue
		}
		s := ent.find(sp.id, j)
		if s == nil {
			s = newSeries(sp.kind)
			if ent.slots == nil {
				ent.slots = make([]slot, 0, len(k.series))
			}
			ent.slots = append(ent.slots, slot{id: sp.id, s: s})
		}
		s.add(sp, &sc.contrib[j], sc)
	}
	ent.expires = minTime
	sc.mutable = true
	for j, sp := range k.series {
		s := ent.find(sp.id, j)
		if s == nil {
			readEmpty(sp, sc.vals)
			continue
		}
		s.read(sp, sc.t, before(sc.wm, sp.retention), sc.vals, sc)
		ent.expires = max(ent.expires, s.newest()+sp.retention)
	}
	sc.mutable = false
}

// view runs inside Store.View: read only.
func (sc *scratch) view(ent *Entity) {
	for j, sp := range sc.k.series {
		s := ent.find(sp.id, j)
		if s == nil {
			readEmpty(sp, sc.vals)
			continue
		}
		s.read(sp, sc.t, before(sc.wm, sp.retention), sc.vals, sc)
	}
}

func (sc *scratch) readAllEmpty() {
	for _, sp := range sc.k.series {
		readEmpty(sp, sc.vals)
	}
}

// output computes the ratios and builds the result map.
func (sc *scratch) output(p *plan) map[string]any {
	for _, r := range p.ratios {
		sc.vals[r.out] = ratioValue(sc.vals[r.num], p.defaults[r.num], sc.vals[r.den], p.defaults[r.den])
	}
	out := make(map[string]any, len(p.names))
	for i := range sc.vals {
		switch v := &sc.vals[i]; v.state {
		case number:
			out[p.names[i]] = boxNumber(v.num)
		case other:
			out[p.names[i]] = v.v
		case undefined:
			if d := p.defaults[i]; d != nil {
				out[p.names[i]] = d
			}
		}
	}
	return out
}

// ratioValue divides two feature values (an undefined operand takes its
// default). It is not read when an operand was not (its entity is missing),
// undefined when an operand is undefined or the denominator is zero.
func ratioValue(num value, numDef any, den value, denDef any) value {
	if num.state == notRead || den.state == notRead {
		return value{}
	}
	x, okx := operand(num, numDef)
	y, oky := operand(den, denDef)
	if !okx || !oky || y == 0 {
		return value{state: undefined}
	}
	q := x / y
	if math.IsInf(q, 0) || math.IsNaN(q) {
		return value{state: undefined}
	}
	return numberValue(q)
}

func operand(v value, def any) (float64, bool) {
	switch v.state {
	case number:
		return v.num, true
	case undefined:
		d, ok := def.(float64)
		return d, ok
	}
	return 0, false
}

// smallCounts holds the boxed whole numbers 0..255, so that the usual small
// counts cost no allocation; it is never written after initialisation.
var smallCounts = func() (t [256]any) {
	for i := range t {
		t[i] = float64(i)
	}
	return t
}()

func boxNumber(x float64) any {
	if x >= 0 && x < 256 && x == math.Trunc(x) && !(x == 0 && math.Signbit(x)) {
		return smallCounts[int(x)]
	}
	return x
}
