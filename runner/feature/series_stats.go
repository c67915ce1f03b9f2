package feature

import "math"

// statsSeries keeps, per bucket, the count of matching records and the
// moments of a numeric field: the state of count, sum, avg, min, max and
// stddev over one entity, filter and field.
type statsSeries struct {
	b []bucket
	m []moments // parallel to b
}

// moments of the field values in one bucket. Sums are double-double (see
// dd), so sum is exact whatever the bucket grouping.
type moments struct {
	nv       int64 // values (matching records whose field is a number or boolean)
	sum, sq  dd    // Σx, Σx²
	min, max float64
}

func (m *moments) add(x float64) {
	if m.nv == 0 || x < m.min {
		m.min = x
	}
	if m.nv == 0 || x > m.max {
		m.max = x
	}
	m.nv++
	m.sum.add(x)
	m.sq.addSquare(x)
}

func (m *moments) absorb(o *moments) {
	if o.nv == 0 {
		return
	}
	if m.nv == 0 || o.min < m.min {
		m.min = o.min
	}
	if m.nv == 0 || o.max > m.max {
		m.max = o.max
	}
	m.nv += o.nv
	m.sum.addDD(o.sum)
	m.sq.addDD(o.sq)
}

type statsPayload struct{ s *statsSeries }

func (p statsPayload) insert(i int) {
	p.s.m = append(p.s.m, moments{})
	copy(p.s.m[i+1:], p.s.m[i:])
	p.s.m[i] = moments{}
}

func (p statsPayload) merge(i int) {
	p.s.m[i].absorb(&p.s.m[i+1])
	p.s.m = append(p.s.m[:i+1], p.s.m[i+2:]...)
}

func (p statsPayload) drop(n int) { p.s.m = append(p.s.m[:0], p.s.m[n:]...) }

func (s *statsSeries) add(sp *seriesPlan, c *contribution, _ *scratch) {
	pl := statsPayload{s}
	i := locate(&s.b, c.at, sp.res, pl)
	s.b[i].take(c.at)
	if c.hasNum {
		s.m[i].add(c.num)
	}
	limit(&s.b, sp.maxBuckets, pl)
}

func (s *statsSeries) prune(cut int64) bool { return prune(&s.b, cut, statsPayload{s}) > 0 }

func (s *statsSeries) newest() int64 { return newest(s.b) }

// summary folds the buckets of one window.
type summary struct {
	n, nv    float64
	sum, sq  dd
	min, max float64
	extremes bool // min and max are set
}

// summarize folds the buckets of r's window, as much as r.need asks.
func (s *statsSeries) summarize(r *reader, t, cut int64) (m summary) {
	lo, hi, ok := r.bounds(t, cut)
	if !ok {
		return m
	}
	var sum, sq acc
	i, j := span(s.b, lo, hi)
	for k := i; k < j; k++ {
		b, mo := &s.b[k], &s.m[k]
		w := b.weight(lo, hi)
		if w == 0 {
			continue
		}
		m.n += float64(b.n) * w
		if mo.nv == 0 || r.need == 0 {
			continue
		}
		m.nv += float64(mo.nv) * w
		if r.need&needSum != 0 {
			sum.add(mo.sum.scaled(w))
		}
		if r.need&needSquares != 0 {
			sq.add(mo.sq.scaled(w))
		}
		if r.need&needExtremes != 0 && w >= 0.5 {
			if !m.extremes || mo.min < m.min {
				m.min = mo.min
			}
			if !m.extremes || mo.max > m.max {
				m.max = mo.max
			}
			m.extremes = true
		}
	}
	m.sum, m.sq = sum.result(), sq.result()
	return m
}

func (m *summary) value(a Aggregate) value {
	switch a {
	case Count:
		return numberValue(m.n)
	case Sum:
		return numberValue(m.sum.hi + m.sum.lo)
	case Avg:
		if m.nv > 0 {
			return numberValue(m.sum.divFloat(m.nv).hi)
		}
	case Min:
		if m.extremes {
			return numberValue(m.min)
		}
	case Max:
		if m.extremes {
			return numberValue(m.max)
		}
	case Stddev:
		if m.nv >= 2 {
			return numberValue(math.Sqrt(sampleVariance(m.nv, m.sum, m.sq)))
		}
	}
	return value{state: undefined}
}

func (s *statsSeries) read(sp *seriesPlan, t, cut int64, out []value, _ *scratch) {
	var m summary
	for i := range sp.readers {
		r := &sp.readers[i]
		if r.first {
			m = s.summarize(r, t, cut)
		}
		out[r.out] = m.value(r.agg)
	}
}
