package model

import (
	"encoding/json"
	"math"
)

// source is where an input reads its raw value, resolved once at load time
// from its `from` (record.<field>, features.<name>, time.<part>).
type source struct {
	kind sourceKind
	key  string // the field or feature name
}

type sourceKind uint8

const (
	fromRecord sourceKind = iota
	fromFeature
	fromHour    // 0–23, UTC
	fromWeekday // 0–6, Monday 0
	fromWeekend // 1 on Saturday and Sunday
	fromNight   // 1 when the UTC hour ≤ 6 (the handbook's TX_DURING_NIGHT)
)

// read returns the raw value and whether there is one that is a number.
func (s source) read(e env) (float64, bool) {
	switch s.kind {
	case fromRecord:
		return number(e.fields[s.key])
	case fromFeature:
		return number(e.features[s.key])
	}
	if e.hour < 0 {
		return 0, false
	}
	switch s.kind {
	case fromHour:
		return float64(e.hour), true
	case fromWeekday:
		return float64(e.weekday), true
	case fromWeekend:
		return indicator(e.weekday >= 5), true
	default: // fromNight
		return indicator(e.hour <= 6), true
	}
}

// number reads a record field or feature value as a number. Booleans count
// as 1 and 0; anything else that is not a finite number is absent.
func number(v any) (float64, bool) {
	var x float64
	switch n := v.(type) {
	case float64:
		x = n
	case bool:
		return indicator(n), true
	case int:
		x = float64(n)
	case int64:
		x = float64(n)
	case int32:
		x = float64(n)
	case uint64:
		x = float64(n)
	case uint32:
		x = float64(n)
	case float32:
		x = float64(n)
	case json.Number:
		f, err := n.Float64()
		if err != nil {
			return 0, false
		}
		x = f
	default:
		return 0, false
	}
	return x, finite(x)
}

// step is one transform of an input's value.
type step struct {
	op   op
	a, b float64 // clip: lo, hi; standardize: mean, std
}

type op uint8

const (
	opLog1p op = iota
	opClip
	opStandardize
	opBool
)

// input is one compiled model input: where it reads, how it is transformed,
// and the transformed value of `missing`, used when the value is absent or
// its transforms give no finite number.
type input struct {
	src      source
	steps    []step
	missingX float64
}

// value is the input's transformed value for one record.
func (in *input) value(e env) float64 {
	raw, ok := in.src.read(e)
	if !ok {
		return in.missingX
	}
	x := transform(in.steps, raw)
	if !finite(x) {
		return in.missingX
	}
	return x
}

// transform applies the steps in order.
func transform(steps []step, x float64) float64 {
	for _, s := range steps {
		switch s.op {
		case opLog1p:
			x = math.Log1p(x)
		case opClip:
			x = min(max(x, s.a), s.b)
		case opStandardize:
			x = (x - s.a) / s.b
		case opBool:
			x = indicator(x != 0)
		}
	}
	return x
}

func indicator(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }
