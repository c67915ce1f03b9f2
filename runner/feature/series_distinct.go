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
	sketch bool       // the buckets hold sketches
	nvals  int        // exact mode: an upper bound on the distinct values held
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

func (p distinctPayload) insert(i int) { p.s.sets = slices.Insert(p.s.sets, i, valueSet{}) }

func (p distinctPayload) merge(i int) {
	p.s.sets[i].absorb(&p.s.sets[i+1], p.s.sketch)
	p.s.sets = slices.Delete(p.s.sets, i+1, i+2)
}

func (p distinctPayload) drop(n int) { p.s.sets = slices.Delete(p.s.sets, 0, n) }

func (s *distinctSeries) add(sp *seriesPlan, c *contribution, sc *scratch) {
	pl := distinctPayload{s}
	i := locate(&s.b, c.at, sp.res, pl)
	s.b[i].take(c.at)
	if c.hasVal {
		set := &s.sets[i]
		switch {
		case s.sketch:
			set.addSketch(c.hash)
		case set.insert(c.hash) && !s.heldElsewhere(c.hash, i):
			s.nvals++
			if s.nvals > sp.distinctExact {
				// nvals may count values of buckets since pruned: count again.
				s.nvals = s.countAll(sc)
				if s.nvals > sp.distinctExact {
					s.toSketch(sp)
				}
			}
		}
	}
	limit(&s.b, s.maxBuckets(sp), pl)
}

// heldElsewhere reports whether a bucket other than skip holds h, looking
// at the newest first, where a recurring value most likely is.
func (s *distinctSeries) heldElsewhere(h uint64, skip int) bool {
	for k := len(s.sets) - 1; k >= 0; k-- {
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

// toSketch turns the buckets into sketches. A sketch read merges every
// bucket of the window, so sketch mode keeps fewer, coarser buckets.
func (s *distinctSeries) toSketch(sp *seriesPlan) {
	s.sketch, s.nvals = true, 0
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
			n = s.count(r, t, cut, sc)
		}
		out[r.out] = numberValue(n)
	}
}

// count is the number of distinct values in the reader's window: exact, or
// the sketch's estimate rounded to a whole number. A bucket straddling an
// edge counts when at least half of it is inside.
func (s *distinctSeries) count(r *reader, t, cut int64, sc *scratch) float64 {
	lo, hi, ok := r.bounds(t, cut)
	if !ok {
		return 0
	}
	i, j := span(s.b, lo, hi)
	if !s.sketch {
		c := &sc.distinct
		c.reset()
		for k := i; k < j; k++ {
			if s.b[k].inHalf(lo, hi) {
				for _, h := range s.sets[k].h {
					c.add(h)
				}
			}
		}
		return float64(c.n)
	}
	regs := &sc.regs
	clear(regs[:])
	for k := i; k < j; k++ {
		if !s.b[k].inHalf(lo, hi) {
			continue
		}
		if set := &s.sets[k]; set.reg != nil {
			regs.merge(set.reg)
		} else {
			for _, h := range set.h {
				regs.insert(h)
			}
		}
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
