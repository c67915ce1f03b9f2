package feature

import (
	"math"
	"math/bits"
)

// A HyperLogLog sketch of precision hllP estimates how many distinct 64-bit
// hashes were added with a standard error of 1.04/√m = 6.5% (m = 2^hllP =
// 256 registers of one byte). Sketches merge by taking the larger register,
// which is how a window's buckets are combined. The estimate is Ertl's
// improved estimator ("New cardinality estimation algorithms for
// HyperLogLog sketches", 2017), unbiased from zero to far beyond any window
// without empirical bias tables.
const (
	hllP = 8
	hllM = 1 << hllP
	hllQ = 64 - hllP // bits left for the rank; registers hold 0..hllQ+1
)

type hllRegs [hllM]uint8

// insert adds a hash.
func (r *hllRegs) insert(h uint64) {
	idx := h >> hllQ
	rank := uint8(bits.LeadingZeros64(h<<hllP|1<<(hllP-1))) + 1
	if rank > r[idx] {
		r[idx] = rank
	}
}

// merge folds o into r.
func (r *hllRegs) merge(o *hllRegs) {
	for i, v := range o {
		if v > r[i] {
			r[i] = v
		}
	}
}

// estimate returns the estimated number of distinct hashes inserted.
func (r *hllRegs) estimate() float64 {
	var c [hllQ + 2]int
	for _, v := range r {
		c[v]++
	}
	const m = float64(hllM)
	z := m * hllTau(1-float64(c[hllQ+1])/m)
	for k := hllQ; k >= 1; k-- {
		z = 0.5 * (z + float64(c[k]))
	}
	z += m * hllSigma(float64(c[0])/m)
	const alphaInf = 0.5 / math.Ln2
	return alphaInf * m * m / z
}

func hllSigma(x float64) float64 {
	if x == 1 {
		return math.Inf(1)
	}
	y, z := 1.0, x
	for {
		x *= x
		prev := z
		z += x * y
		y += y
		if z == prev {
			return z
		}
	}
}

func hllTau(x float64) float64 {
	if x == 0 || x == 1 {
		return 0
	}
	y, z := 1.0, 1-x
	for {
		x = math.Sqrt(x)
		prev := z
		y *= 0.5
		z -= (1 - x) * (1 - x) * y
		if z == prev {
			return z / 3
		}
	}
}

// insertChanged adds a hash and reports whether a register rose.
func (r *hllRegs) insertChanged(h uint64) bool {
	idx := h >> hllQ
	rank := uint8(bits.LeadingZeros64(h<<hllP|1<<(hllP-1))) + 1
	if rank > r[idx] {
		r[idx] = rank
		return true
	}
	return false
}

// absorb folds a bucket's set (registers or sparse hashes) into r.
func (r *hllRegs) absorb(set *valueSet) {
	if set.reg != nil {
		r.merge(set.reg)
		return
	}
	for _, h := range set.h {
		r.insert(h)
	}
}
