package feature

// bucket holds the contributions of one stretch of time. first and last are
// the times (unix ns) of its earliest and latest contribution, so that a
// window edge falling between two buckets is exact, and one falling inside a
// bucket is met only when contributions share the bucket on both sides of
// it. A bucket covers the resolution slots from first's to last's: one slot,
// unless it was merged with a neighbour to keep the bucket count bounded.
type bucket struct {
	first, last int64
	n           int64 // contributions (matching records)
}

// weight is the share of the bucket inside the window (lo, hi]: 1 or 0
// unless the bucket straddles an edge; then the contributions are taken as
// spread evenly over [first, last].
func (b *bucket) weight(lo, hi int64) float64 {
	if b.first > lo && b.last <= hi {
		return 1
	}
	if b.last <= lo || b.first > hi {
		return 0
	}
	from, to := max(b.first, lo), min(b.last, hi)
	return float64(to-from) / float64(b.last-b.first)
}

// inHalf reports whether at least half the bucket lies in (lo, hi]: how
// min, max, distinct and last treat a straddling bucket, since they cannot
// take a share of it.
func (b *bucket) inHalf(lo, hi int64) bool { return b.weight(lo, hi) >= 0.5 }

// take adds a contribution at c to the bucket.
func (b *bucket) take(c int64) {
	if b.n == 0 {
		b.first, b.last = c, c
	} else {
		b.first, b.last = min(b.first, c), max(b.last, c)
	}
	b.n++
}

func (b *bucket) absorb(o *bucket) {
	b.first, b.last = min(b.first, o.first), max(b.last, o.last)
	b.n += o.n
}

// payload is what a series keeps per bucket besides the bucket itself, in a
// slice parallel to its buckets; these keep it in step.
type payload interface {
	insert(i int) // room for an empty payload at i
	merge(i int)  // fold payload i+1 into i and remove i+1
	drop(n int)   // remove the n oldest
}

// noPayload is the payload of series that need nothing but counts.
type noPayload struct{}

func (noPayload) insert(int) {}
func (noPayload) merge(int)  {}
func (noPayload) drop(int)   {}

func slotOf(t, res int64) int64 {
	q := t / res
	if t%res < 0 {
		q--
	}
	return q
}

// locate returns the index of the bucket whose slots cover c's, inserting an
// empty one (and its payload) in time order when there is none.
func locate(bs *[]bucket, c, res int64, pl payload) int {
	b := *bs
	slot := slotOf(c, res)
	// Most contributions go to the newest bucket or a new one after it.
	if n := len(b); n > 0 {
		last := &b[n-1]
		if slotOf(last.first, res) <= slot {
			if slot <= slotOf(last.last, res) {
				return n - 1
			}
			*bs = append(b, bucket{})
			pl.insert(n)
			return n
		}
	}
	// i = how many buckets start in a slot at or before c's.
	lo, hi := 0, len(b)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if slotOf(b[mid].first, res) <= slot {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	i := lo
	if i > 0 && slot <= slotOf(b[i-1].last, res) {
		return i - 1
	}
	*bs = append(b, bucket{})
	copy((*bs)[i+1:], (*bs)[i:])
	(*bs)[i] = bucket{}
	pl.insert(i)
	return i
}

// limit merges buckets, the adjacent pair with the smallest combined span
// first (the oldest pair on a tie), until there are at most max. Heavy
// entities get coarser buckets where they are densest.
func limit(bs *[]bucket, max int, pl payload) {
	for len(*bs) > max && len(*bs) > 1 {
		b := *bs
		best, bestSpan := 0, b[1].last-b[0].first
		for k := 1; k+1 < len(b); k++ {
			if span := b[k+1].last - b[k].first; span < bestSpan {
				best, bestSpan = k, span
			}
		}
		b[best].absorb(&b[best+1])
		*bs = append(b[:best+1], b[best+2:]...)
		pl.merge(best)
	}
}

// prune drops the buckets whose every contribution is at or before cut and
// reports how many are left.
func prune(bs *[]bucket, cut int64, pl payload) int {
	b := *bs
	n := 0
	for n < len(b) && b[n].last <= cut {
		n++
	}
	if n > 0 {
		*bs = append(b[:0], b[n:]...)
		pl.drop(n)
	}
	return len(*bs)
}

// span returns the index range [i, j) of the buckets that may overlap the
// window (lo, hi]: the first whose last is after lo up to the first whose
// first is after hi.
func span(b []bucket, lo, hi int64) (int, int) {
	l, h := 0, len(b)
	for l < h {
		mid := int(uint(l+h) >> 1)
		if b[mid].first <= hi {
			l = mid + 1
		} else {
			h = mid
		}
	}
	j := l
	l, h = 0, j
	for l < h {
		mid := int(uint(l+h) >> 1)
		if b[mid].last <= lo {
			l = mid + 1
		} else {
			h = mid
		}
	}
	return l, j
}

func newest(b []bucket) int64 {
	if len(b) == 0 {
		return minTime
	}
	return b[len(b)-1].last
}

const minTime = -1 << 63
