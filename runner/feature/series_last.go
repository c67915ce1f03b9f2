package feature

import "slices"

// lastSeries keeps, per bucket, the field value of its latest contribution:
// the state of last features. A read at t takes the newest bucket wholly at
// or before t; a bucket holding contributions on both sides of t (possible
// only when records of one resolution slot arrive out of order) is passed
// over for the one before it.
type lastSeries struct {
	b    []bucket
	vals []any // parallel to b
}

type lastPayload struct{ s *lastSeries }

func (p lastPayload) insert(i int) { p.s.vals = slices.Insert(p.s.vals, i, nil) }

func (p lastPayload) merge(i int) {
	p.s.vals[i] = p.s.vals[i+1] // the later bucket holds the later value
	p.s.vals = slices.Delete(p.s.vals, i+1, i+2)
}

func (p lastPayload) drop(n int) { p.s.vals = slices.Delete(p.s.vals, 0, n) }

func (s *lastSeries) add(sp *seriesPlan, c *contribution, _ *scratch) {
	pl := lastPayload{s}
	i := locate(&s.b, c.at, sp.res, pl)
	b := &s.b[i]
	if b.n == 0 || c.at >= b.last { // on a tie the record applied later wins
		s.vals[i] = c.val
	}
	b.take(c.at)
	limit(&s.b, sp.maxBuckets, pl)
}

func (s *lastSeries) prune(cut int64) bool { return prune(&s.b, cut, lastPayload{s}) > 0 }

func (s *lastSeries) newest() int64 { return newest(s.b) }

func (s *lastSeries) read(sp *seriesPlan, t, cut int64, out []value, _ *scratch) {
	for i := range sp.readers {
		r := &sp.readers[i]
		out[r.out] = s.at(r, t, cut)
	}
}

func (s *lastSeries) at(r *reader, t, cut int64) value {
	lo, hi, ok := r.bounds(t, cut)
	if !ok {
		return value{state: undefined}
	}
	i, j := span(s.b, lo, hi)
	for k := j - 1; k >= i; k-- {
		if b := &s.b[k]; b.last <= hi {
			if b.last > lo {
				return value{state: other, v: s.vals[k]}
			}
			break
		}
	}
	return value{state: undefined}
}
