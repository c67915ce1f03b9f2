package feature

import "math"

// dd is a double-double: the unevaluated sum hi + lo of two float64s with
// |lo| ≤ ulp(hi)/2, about 106 bits of precision. Sums of a series are kept
// this way so that a window's sum does not depend on how the contributions
// were grouped into buckets: each addition is error-free (TwoSum), so as
// long as the exact sum fits in 106 bits — amounts with cents up to 10^15
// always do — hi is the exact sum correctly rounded to float64, whichever
// buckets were merged and in whatever order they are added up.
type dd struct{ hi, lo float64 }

// twoSum returns s = fl(a+b) and the rounding error e, a + b = s + e exactly
// (Knuth).
func twoSum(a, b float64) (s, e float64) {
	s = a + b
	bb := s - a
	e = (a - (s - bb)) + (b - bb)
	return s, e
}

// fastTwoSum is twoSum for |a| ≥ |b| (Dekker).
func fastTwoSum(a, b float64) (s, e float64) {
	s = a + b
	e = b - (s - a)
	return s, e
}

// add adds x.
func (d *dd) add(x float64) {
	s, e := twoSum(d.hi, x)
	e += d.lo
	d.hi, d.lo = fastTwoSum(s, e)
}

// addDD adds o (the accurate double-double sum, Bailey's QD "ieee_add").
func (d *dd) addDD(o dd) {
	s, e := twoSum(d.hi, o.hi)
	t, f := twoSum(d.lo, o.lo)
	e += t
	s, e = fastTwoSum(s, e)
	e += f
	d.hi, d.lo = fastTwoSum(s, e)
}

// addSquare adds x², computed exactly as the pair p + e with a fused
// multiply-add.
func (d *dd) addSquare(x float64) {
	p := x * x
	d.add(p)
	d.add(math.FMA(x, x, -p))
}

// mul returns d·o.
func (d dd) mul(o dd) dd {
	p := d.hi * o.hi
	e := math.FMA(d.hi, o.hi, -p)
	e += d.hi*o.lo + d.lo*o.hi
	p, e = fastTwoSum(p, e)
	return dd{p, e}
}

// divFloat returns d/x.
func (d dd) divFloat(x float64) dd {
	q1 := d.hi / x
	// r = d − q1·x, with q1·x exact as p + e.
	p := q1 * x
	e := math.FMA(q1, x, -p)
	r := d
	r.addDD(dd{-p, -e})
	q2 := r.hi / x
	q1, q2 = fastTwoSum(q1, q2)
	return dd{q1, q2}
}

// scaled returns d·w for a weight 0 ≤ w ≤ 1, for buckets that straddle a
// window edge; exact when w is 1.
func (d dd) scaled(w float64) dd {
	if w == 1 {
		return d
	}
	return d.mul(dd{w, 0})
}

// sampleVariance is Σ(x−mean)²/(n−1) from n, Σx and Σx², computed in
// double-double so that a small spread around a large mean keeps its digits.
func sampleVariance(n float64, sum, sumSq dd) float64 {
	m2 := sumSq
	sq := sum.mul(sum).divFloat(n)
	m2.addDD(dd{-sq.hi, -sq.lo})
	v := (m2.hi + m2.lo) / (n - 1)
	if v < 0 { // rounding of a zero spread
		return 0
	}
	return v
}

// acc adds up double-doubles in a window read, more cheaply than addDD: an
// error-free TwoSum of the high parts, while their errors and the low parts
// are summed apart (Ogita, Rump and Oishi's Sum2). The result is exact under
// the same condition as dd's: an exact sum that fits in 106 bits.
type acc struct{ s, c float64 }

func (a *acc) add(x dd) {
	s, e := twoSum(a.s, x.hi)
	a.s = s
	a.c += e + x.lo
}

func (a *acc) result() dd {
	s, e := twoSum(a.s, a.c)
	return dd{s, e}
}
