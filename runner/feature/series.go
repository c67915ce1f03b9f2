package feature

import (
	"encoding/binary"
	"math"

	"github.com/cespare/xxhash/v2"
)

// seriesKind says what a series keeps per bucket, and so which aggregates
// can read it.
type seriesKind uint8

const (
	kindCount     seriesKind = iota + 1 // counts: count
	kindStats                           // counts and moments of a field: count, sum, avg, min, max, stddev
	kindDistinct                        // the set (or sketch) of a field's values: distinct
	kindLast                            // the latest value of a field: last
	kindFirstSeen                       // episodes of activity: first_seen_age
)

func (k seriesKind) String() string {
	switch k {
	case kindCount:
		return "count"
	case kindStats:
		return "stats"
	case kindDistinct:
		return "distinct"
	case kindLast:
		return "last"
	case kindFirstSeen:
		return "first_seen"
	}
	return "unknown"
}

// series is the state of one (entity, series): what its readers need to
// compute their features as of any time within the retention.
type series interface {
	// add applies one contribution.
	add(sp *seriesPlan, c *contribution, sc *scratch)
	// prune forgets everything at or before cut and reports whether
	// anything is left.
	prune(cut int64) bool
	// newest is the time of the latest contribution kept.
	newest() int64
	// read computes the features of every reader as of time t into out,
	// seeing nothing at or before cut.
	read(sp *seriesPlan, t, cut int64, out []value, sc *scratch)
	encode(w *encoder)
	decode(r *decoder) error
}

func newSeries(k seriesKind) series {
	switch k {
	case kindCount:
		return &countSeries{}
	case kindStats:
		return &statsSeries{}
	case kindDistinct:
		return &distinctSeries{}
	case kindLast:
		return &lastSeries{}
	case kindFirstSeen:
		return &firstSeenSeries{}
	}
	return nil
}

// contribution is what one record adds to one series.
type contribution struct {
	at     int64   // contribution time, unix ns
	num    float64 // stats: the field as a number
	hasNum bool
	hash   uint64 // distinct: the field value's hash
	val    any    // last: the field value
	hasVal bool   // distinct, last: the field holds a usable value
}

// numberOf reads a field value as a number for sum, avg, min, max and
// stddev: numbers as they are, booleans as 1 and 0.
func numberOf(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// scalarOf keeps the values distinct and last can hold: strings, numbers
// and booleans (objects and arrays contribute nothing).
func scalarOf(v any) (any, bool) {
	switch v.(type) {
	case string, float64, bool:
		return v, true
	}
	return nil, false
}

// hashOf hashes a value for distinct: strings by their bytes, numbers by
// their value (so 1 and 1.0 are one value), booleans as such; a tag byte
// keeps the string "true" apart from the boolean.
func hashOf(v any) (uint64, bool) {
	var b [9]byte
	switch x := v.(type) {
	case string:
		return xxhash.Sum64String(x), true
	case float64:
		b[0] = 'n'
		binary.LittleEndian.PutUint64(b[1:], math.Float64bits(x+0)) // +0 folds −0 into 0
		return xxhash.Sum64(b[:]), true
	case bool:
		b[0] = 'b'
		if x {
			b[1] = 1
		}
		return xxhash.Sum64(b[:2]), true
	}
	return 0, false
}

// valueState says what a feature's value is for one record.
type valueState uint8

const (
	notRead   valueState = iota // the record lacks the entity: the feature is absent
	undefined                   // nothing to aggregate (avg of nothing, ...): absent unless it has a default
	number                      // num holds the value
	other                       // v holds the value (last)
)

type value struct {
	state valueState
	num   float64
	v     any
}

func numberValue(x float64) value { return value{state: number, num: x} }

// emptyValue is what an aggregate gives over no contributions.
func emptyValue(a Aggregate) value {
	switch a {
	case Count, Sum, Distinct:
		return numberValue(0)
	}
	return value{state: undefined}
}

// readEmpty reads every reader of a series that has no state.
func readEmpty(sp *seriesPlan, out []value) {
	for i := range sp.readers {
		r := &sp.readers[i]
		out[r.out] = emptyValue(r.agg)
	}
}
