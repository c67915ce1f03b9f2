package feature

import (
	"math"
	"slices"
)

// distinctSeries keeps, per bucket, the set of a field's values (as 64-bit
// hashes) for distinct features. It is exact while the series holds at most
// sp.distinctExact distinct values; past that it turns every bucket into a
// HyperLogLog sketch (see hllP: standard error 6.5%), sparse — the hashes
// themselves — while a bucket has few values, and merges the sketches of a
// window's buckets to estimate. It stays a sketch until its state expires.
type distinctSeries struct {
	b      []bucket
	sets   []valueSet // parallel to b
	nvals  int32      // exact mode: an upper bound on the distinct values held
	sketch bool       // the buckets hold sketches
	// view is the union of a run of buckets, kept up to date as values and
	// buckets come and go, so that a read does not merge the window's
	// buckets again (nil until a read spans two buckets; never encoded).
	view *distinctView
}

// valueSet is one bucket's values: sorted hashes (exact, or a sparse
// sketch) or, once a sketch has more than sparseMax, its registers.
type valueSet struct {
	h   []uint64
	reg *hllRegs
}

// sparseMax is where a sparse sketch's hashes would outweigh its registers.
const sparseMax = hllM / 8

// insert adds h to a sorted set and reports whether it was new.
func (v *valueSet) insert(h uint64) bool {
	i, found := slices.BinarySearch(v.h, h)
	if found {
		return false
	}
	v.h = slices.Insert(v.h, i, h)
	return true
}

func (v *valueSet) has(h uint64) bool {
	_, found := slices.BinarySearch(v.h, h)
	return found
}

// addSketch adds h to a bucket in sketch mode.
func (v *valueSet) addSketch(h uint64) {
	if v.reg != nil {
		v.reg.insert(h)
		return
	}
	v.insert(h)
	if len(v.h) > sparseMax {
		v.densify()
	}
}

func (v *valueSet) densify() {
	v.reg = new(hllRegs)
	for _, h := range v.h {
		v.reg.insert(h)
	}
	v.h = nil
}

// absorb folds o into v.
func (v *valueSet) absorb(o *valueSet, sketch bool) {
	switch {
	case v.reg != nil && o.reg != nil:
		v.reg.merge(o.reg)
	case v.reg != nil:
		for _, h := range o.h {
			v.reg.insert(h)
		}
	case o.reg != nil:
		r := *o.reg
		for _, h := range v.h {
			r.insert(h)
		}
		v.reg, v.h = &r, nil
	default:
		merged := make([]uint64, 0, len(v.h)+len(o.h))
		merged = append(append(merged, v.h...), o.h...)
		slices.Sort(merged)
		v.h = slices.Compact(merged)
		if sketch && len(v.h) > sparseMax {
			v.densify()
		}
	}
}

type distinctPayload struct{ s *distinctSeries }

func (p distinctPayload) insert(i int) {
	if v := p.s.view; v != nil && v.valid {
		v.inserted(i)
	}
	p.s.sets = slices.Insert(p.s.sets, i, valueSet{})
}

func (p distinctPayload) merge(i int) {
	if v := p.s.view; v != nil && v.valid {
		v.merging(p.s.sets, i, p.s.sketch)
	}
	p.s.sets[i].absorb(&p.s.sets[i+1], p.s.sketch)
	p.s.sets = slices.Delete(p.s.sets, i+1, i+2)
}

func (p distinctPayload) drop(n int) {
	if v := p.s.view; v != nil && v.valid {
		v.dropping(p.s.sets, n, p.s.sketch)
	}
	p.s.sets = slices.Delete(p.s.sets, 0, n)
}

func (s *distinctSeries) add(sp *seriesPlan, c *contribution, sc *scratch) {
	pl := distinctPayload{s}
	i := locate(&s.b, c.at, sp.res, pl)
	s.b[i].take(c.at)
	if c.hasVal {
		set := &s.sets[i]
		v := s.view
		if v != nil && (!v.valid || i < int(v.a) || i >= int(v.b)) {
			v = nil // the bucket is outside the view
		}
		switch {
		case s.sketch:
			set.addSketch(c.hash)
			if v != nil {
				v.insertSketch(c.hash)
			}
		case set.insert(c.hash):
			// A value the view already counted is in another bucket of its
			// run: only the buckets outside the run need looking at.
			if !(v != nil && v.incr(c.hash) > 0) && !s.heldElsewhere(c.hash, i, v) {
				s.nvals++
				if int(s.nvals) > sp.distinctExact {
					// nvals may count values of buckets since pruned: count again.
					s.nvals = int32(s.countAll(sc))
					if int(s.nvals) > sp.distinctExact {
						s.toSketch(sp)
					}
				}
			}
		}
	}
	limit(&s.b, s.maxBuckets(sp), pl)
}

// heldElsewhere reports whether a bucket other than skip, and outside the
// run of v (when not nil), holds h, looking at the newest first, where a
// recurring value most likely is.
func (s *distinctSeries) heldElsewhere(h uint64, skip int, v *distinctView) bool {
	from, to := -1, -1 // the run to skip: none
	if v != nil && v.a < v.b {
		from, to = int(v.a), int(v.b)
	}
	for k := len(s.sets) - 1; k >= 0; k-- {
		if k == to-1 {
			k = from // skips the run [from, to)
			continue
		}
		if k != skip && s.sets[k].has(h) {
			return true
		}
	}
	return false
}

// countAll is the exact number of distinct values held (exact mode).
func (s *distinctSeries) countAll(sc *scratch) int {
	c := &sc.distinct
	c.reset()
	for k := range s.sets {
		for _, h := range s.sets[k].h {
			c.add(h)
		}
	}
	return c.n
}

// toSketch turns the buckets into sketches. A sketch read merges the
// window's buckets again whenever one leaves it, so sketch mode keeps
// fewer, coarser buckets.
func (s *distinctSeries) toSketch(sp *seriesPlan) {
	s.sketch, s.nvals = true, 0
	if s.view != nil {
		s.view.reset()
	}
	for k := range s.sets {
		if len(s.sets[k].h) > sparseMax {
			s.sets[k].densify()
		}
	}
	limit(&s.b, s.maxBuckets(sp), distinctPayload{s})
}

// maxBuckets is sp.maxBuckets in exact mode, an eighth of it (at least 4)
// in sketch mode.
func (s *distinctSeries) maxBuckets(sp *seriesPlan) int {
	if s.sketch {
		return max(4, sp.maxBuckets/8)
	}
	return sp.maxBuckets
}

func (s *distinctSeries) prune(cut int64) bool {
	return prune(&s.b, cut, distinctPayload{s}) > 0
}

func (s *distinctSeries) newest() int64 { return newest(s.b) }

func (s *distinctSeries) read(sp *seriesPlan, t, cut int64, out []value, sc *scratch) {
	var n float64
	for i := range sp.readers {
		r := &sp.readers[i]
		if r.first {
			// The view follows the first reader's window; the others (a
			// series read over several windows) merge their buckets.
			n = s.count(r, t, cut, sc, i == 0 && !sp.noDistinctView)
		}
		out[r.out] = numberValue(n)
	}
}

// count is the number of distinct values in the reader's window: exact, or
// the sketch's estimate rounded to a whole number. A bucket straddling an
// edge counts when at least half of it is inside. With useView, the view is
// moved to the window's buckets (when sc allows changing the state) and
// read; the result is the same as merging the buckets (mergeCount).
func (s *distinctSeries) count(r *reader, t, cut int64, sc *scratch, useView bool) float64 {
	lo, hi, ok := r.bounds(t, cut)
	if !ok {
		return 0
	}
	i, j := span(s.b, lo, hi)
	// Only the buckets at the ends of the span can straddle an edge: the
	// ones counted are a run.
	if i < j && !s.b[i].inHalf(lo, hi) {
		i++
	}
	if i < j && !s.b[j-1].inHalf(lo, hi) {
		j--
	}
	switch {
	case i >= j:
		return 0
	case j-i == 1 && !s.sketch:
		return float64(len(s.sets[i].h)) // a bucket's values are distinct
	case !useView:
	case s.view != nil && s.view.valid && int(s.view.a) == i && int(s.view.b) == j:
		return s.view.count(s.sketch)
	case sc.mutable:
		if s.view == nil {
			s.view = &distinctView{}
		}
		s.view.move(s.sets, i, j, s.sketch)
		return s.view.count(s.sketch)
	}
	return s.mergeCount(i, j, sc)
}

// mergeCount merges the buckets [i, j) to count their distinct values: what
// a read did before the view, and still does when it cannot use it.
func (s *distinctSeries) mergeCount(i, j int, sc *scratch) float64 {
	if !s.sketch {
		c := &sc.distinct
		c.reset()
		for k := i; k < j; k++ {
			for _, h := range s.sets[k].h {
				c.add(h)
			}
		}
		return float64(c.n)
	}
	regs := &sc.regs
	clear(regs[:])
	for k := i; k < j; k++ {
		regs.absorb(&s.sets[k])
	}
	return math.Round(regs.estimate())
}

// hashCounter counts distinct hashes in an open-addressing table that is
// reused from call to call (part of the scratch): no sorting, no allocation
// once it has grown to the series' exact limit.
type hashCounter struct {
	slots []uint64 // 0 marks an empty slot; the hash 0 is counted apart
	used  []int32  // the slots filled, to empty just those
	zero  bool
	n     int
}

func (c *hashCounter) reset() {
	for _, i := range c.used {
		c.slots[i] = 0
	}
	c.used = c.used[:0]
	c.zero, c.n = false, 0
}

func (c *hashCounter) add(h uint64) {
	if h == 0 {
		if !c.zero {
			c.zero = true
			c.n++
		}
		return
	}
	if 2*(c.n+1) > len(c.slots) {
		c.grow()
	}
	mask := uint64(len(c.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch c.slots[i] {
		case h:
			return
		case 0:
			c.slots[i] = h
			c.used = append(c.used, int32(i))
			c.n++
			return
		}
	}
}

func (c *hashCounter) grow() {
	old := c.slots
	c.slots = make([]uint64, max(128, 2*len(old)))
	c.used = c.used[:0]
	mask := uint64(len(c.slots) - 1)
	for _, h := range old {
		if h == 0 {
			continue
		}
		i := h & mask
		for c.slots[i] != 0 {
			i = (i + 1) & mask
		}
		c.slots[i] = h
		c.used = append(c.used, int32(i))
	}
}
