package feature

import (
	"math"
	"slices"
)

// distinctView is the union of the value sets of a run of a distinct
// series' buckets, [a, b), kept as the series changes so that reading a
// window costs what changed since the last read rather than a merge of every
// bucket in it:
//
//   - exact mode: each value with the number of buckets of the run holding
//     it (a value leaves the union when its last bucket leaves the run);
//   - sketch mode: the run's merged registers, raised as values are added
//     and rebuilt when a bucket leaves the run (a maximum cannot be taken
//     back), with the estimate kept until the registers change.
//
// Whatever the changes, the view holds exactly what merging the sets of
// buckets a..b-1 would give, so a read through it is the read of old.
type distinctView struct {
	a, b  int32 // the run of buckets held
	valid bool  // false: holds nothing, rebuilt at the next read
	estOK bool  // sketch: est is the registers' rounded estimate
	est   float64
	vals  []hashCount // exact: sorted by hash
	regs  *hllRegs    // sketch
}

type hashCount struct {
	h uint64
	n uint32 // buckets of the run holding h, > 0
}

func (v *distinctView) reset() {
	v.valid, v.estOK = false, false
	v.vals = nil
}

// count is the number of distinct values in the run (sketch: its estimate,
// rounded as count rounds it).
func (v *distinctView) count(sketch bool) float64 {
	if !sketch {
		return float64(len(v.vals))
	}
	if !v.estOK {
		v.est, v.estOK = math.Round(v.regs.estimate()), true
	}
	return v.est
}

func (v *distinctView) find(h uint64) (int, bool) {
	return slices.BinarySearchFunc(v.vals, h, func(e hashCount, h uint64) int {
		switch {
		case e.h < h:
			return -1
		case e.h > h:
			return 1
		}
		return 0
	})
}

// incr counts h in one more bucket of the run (exact mode) and returns in
// how many it was before.
func (v *distinctView) incr(h uint64) uint32 {
	k, found := v.find(h)
	if found {
		v.vals[k].n++
		return v.vals[k].n - 1
	}
	v.vals = slices.Insert(v.vals, k, hashCount{h: h, n: 1})
	return 0
}

// decr counts h in one bucket fewer (exact mode).
func (v *distinctView) decr(h uint64) {
	k, found := v.find(h)
	if !found {
		return // cannot happen: the view holds every value of its run
	}
	if v.vals[k].n--; v.vals[k].n == 0 {
		v.vals = slices.Delete(v.vals, k, k+1)
	}
}

// insertSketch adds h to the merged registers (sketch mode).
func (v *distinctView) insertSketch(h uint64) {
	if v.regs.insertChanged(h) {
		v.estOK = false
	}
}

// add folds a bucket's set into the view; in exact mode, the values also in
// except (a bucket of the run it is being merged with) are already counted.
func (v *distinctView) add(set, except *valueSet, sketch bool) {
	if sketch {
		v.regs.absorb(set)
		v.estOK = false
		return
	}
	for _, h := range set.h {
		if except == nil || !except.has(h) {
			v.incr(h)
		}
	}
}

// remove takes a bucket's set out of the view (exact mode).
func (v *distinctView) remove(set *valueSet) {
	for _, h := range set.h {
		v.decr(h)
	}
}

// inserted follows the insertion of an empty bucket at i: one inside the run
// or at its end joins it (it adds nothing), one before it shifts it.
func (v *distinctView) inserted(i int) {
	switch {
	case i < int(v.a):
		v.a++
		v.b++
	case i <= int(v.b):
		v.b++
	}
}

// merging follows the merge of bucket i+1 into i, before it is made: the
// merged bucket is in the run if either part was.
func (v *distinctView) merging(sets []valueSet, i int, sketch bool) {
	a, b := int(v.a), int(v.b)
	switch {
	case a == b: // an empty run: only its position moves
		if i < a {
			v.a--
			v.b--
		}
	case i+1 < a:
		v.a--
		v.b--
	case i >= b:
	case i >= a && i+1 < b: // both in the run: the union is the same
		if !sketch {
			for _, h := range sets[i+1].h {
				if sets[i].has(h) {
					v.decr(h) // counted twice, now in one bucket
				}
			}
		}
		v.b--
	case i+1 == a: // an older bucket joins the run's first
		v.add(&sets[i], &sets[i+1], sketch)
		v.a--
		v.b--
	default: // i == b-1: a newer bucket joins the run's last
		v.add(&sets[i+1], &sets[i], sketch)
	}
}

// dropping follows the removal of the n oldest buckets, before it is made.
func (v *distinctView) dropping(sets []valueSet, n int, sketch bool) {
	a, b := int(v.a), int(v.b)
	if n > a && a < b {
		if sketch {
			v.reset()
			return
		}
		for k := a; k < min(n, b); k++ {
			v.remove(&sets[k])
		}
	}
	v.a, v.b = int32(max(a-n, 0)), int32(max(b-n, 0))
}

// move makes the view hold the run [i, j): by adding and removing the
// buckets at its ends when that is cheaper than merging the run again.
func (v *distinctView) move(sets []valueSet, i, j int, sketch bool) {
	a, b := int(v.a), int(v.b)
	if !v.valid || a == b || j <= a || b <= i {
		v.rebuild(sets, i, j, sketch)
		return
	}
	if sketch {
		if i > a || j < b { // a bucket leaves: merge again
			v.rebuild(sets, i, j, sketch)
			return
		}
		for k := i; k < a; k++ {
			v.add(&sets[k], nil, true)
		}
		for k := b; k < j; k++ {
			v.add(&sets[k], nil, true)
		}
		v.a, v.b = int32(i), int32(j)
		return
	}
	if abs(a-i)+abs(b-j) > j-i {
		v.rebuild(sets, i, j, sketch)
		return
	}
	for k := a; k < i; k++ {
		v.remove(&sets[k])
	}
	for k := i; k < a; k++ {
		v.add(&sets[k], nil, false)
	}
	for k := j; k < b; k++ {
		v.remove(&sets[k])
	}
	for k := b; k < j; k++ {
		v.add(&sets[k], nil, false)
	}
	v.a, v.b = int32(i), int32(j)
}

func (v *distinctView) rebuild(sets []valueSet, i, j int, sketch bool) {
	v.valid, v.estOK = true, false
	v.a, v.b = int32(i), int32(j)
	if sketch {
		v.vals = nil
		if v.regs == nil {
			v.regs = new(hllRegs)
		} else {
			clear(v.regs[:])
		}
		for k := i; k < j; k++ {
			v.regs.absorb(&sets[k])
		}
		return
	}
	v.regs = nil
	v.vals = v.vals[:0]
	for k := i; k < j; k++ {
		v.add(&sets[k], nil, false)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
