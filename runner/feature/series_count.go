package feature

// countSeries counts matching records: the state of count features that
// share no series with a field.
type countSeries struct {
	b []bucket
}

func (s *countSeries) add(sp *seriesPlan, c *contribution, _ *scratch) {
	i := locate(&s.b, c.at, sp.res, noPayload{})
	s.b[i].take(c.at)
	limit(&s.b, sp.maxBuckets, noPayload{})
}

func (s *countSeries) prune(cut int64) bool { return prune(&s.b, cut, noPayload{}) > 0 }

func (s *countSeries) newest() int64 { return newest(s.b) }

func (s *countSeries) read(sp *seriesPlan, t, cut int64, out []value, _ *scratch) {
	var n float64
	for i := range sp.readers {
		r := &sp.readers[i]
		if r.first {
			n = countIn(s.b, r, t, cut)
		}
		out[r.out] = numberValue(n)
	}
}

// countIn is the (weighted) number of contributions in the reader's window.
func countIn(b []bucket, r *reader, t, cut int64) float64 {
	lo, hi, ok := r.bounds(t, cut)
	if !ok {
		return 0
	}
	var n float64
	i, j := span(b, lo, hi)
	for k := i; k < j; k++ {
		n += float64(b[k].n) * b[k].weight(lo, hi)
	}
	return n
}
