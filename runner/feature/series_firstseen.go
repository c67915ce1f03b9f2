package feature

// firstSeenSeries keeps the entity's episodes of activity for
// first_seen_age: maximal runs of matching contributions in which each
// follows the one before by less than the window. An entity whose last
// matching record is a window old or more is new again. Episodes are kept
// apart by at least a window, so only a few fit in the retention, and the
// age is exact in any arrival order.
type firstSeenSeries struct {
	ep []bucket // time-ordered, disjoint, gaps ≥ window
}

func (s *firstSeenSeries) add(sp *seriesPlan, c *contribution, _ *scratch) {
	at, w := c.at, sp.window
	// i = the first episode starting after at.
	i := len(s.ep)
	for i > 0 && s.ep[i-1].first > at {
		i--
	}
	joinPrev := i > 0 && at-s.ep[i-1].last < w
	joinNext := i < len(s.ep) && s.ep[i].first-at < w
	switch {
	case joinPrev && joinNext:
		s.ep[i-1].take(at)
		s.ep[i-1].absorb(&s.ep[i])
		s.ep = append(s.ep[:i], s.ep[i+1:]...)
	case joinPrev:
		s.ep[i-1].take(at)
	case joinNext:
		s.ep[i].take(at)
	default:
		s.ep = append(s.ep, bucket{})
		copy(s.ep[i+1:], s.ep[i:])
		s.ep[i] = bucket{}
		s.ep[i].take(at)
	}
	// Only a burst of out-of-order records could exceed the cap: merging
	// two episodes may then make an age come out older than exact.
	limit(&s.ep, sp.maxBuckets, noPayload{})
}

func (s *firstSeenSeries) prune(cut int64) bool { return prune(&s.ep, cut, noPayload{}) > 0 }

func (s *firstSeenSeries) newest() int64 { return newest(s.ep) }

func (s *firstSeenSeries) read(sp *seriesPlan, t, cut int64, out []value, _ *scratch) {
	v := value{state: undefined}
	// The newest visible episode that started at or before t.
	for k := len(s.ep) - 1; k >= 0; k-- {
		e := &s.ep[k]
		if e.last <= cut {
			break
		}
		if e.first <= t {
			if t <= e.last || t-e.last < sp.window {
				v = numberValue(float64(t-e.first) / 1e9)
			}
			break
		}
	}
	for i := range sp.readers {
		out[sp.readers[i].out] = v
	}
}
