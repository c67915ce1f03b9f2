package feature

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/record"
)

// The engine against a brute-force reference: every applied contribution
// is kept in a list, and each feature is computed from that list for every
// record, straight from the window convention. Times are whole seconds and
// resolutions 1s, so the engine must be exact.

const referenceSpecs = `version: 1
features:
  - name: customer_count_1h
    entity: customer_id
    aggregate: count
    window: 1h
    filter: {type: payment}
  - name: customer_count_1d
    entity: customer_id
    aggregate: count
    window: 1d
    filter: {type: payment}
  - name: customer_amount_sum_1h
    entity: customer_id
    aggregate: sum
    field: amount
    window: 1h
    filter: {type: payment}
  - name: customer_amount_avg_1d
    entity: customer_id
    aggregate: avg
    field: amount
    window: 1d
    filter: {type: payment}
  - name: customer_amount_min_1h
    entity: customer_id
    aggregate: min
    field: amount
    window: 1h
    filter: {type: payment}
  - name: customer_amount_max_1h
    entity: customer_id
    aggregate: max
    field: amount
    window: 1h
    filter: {type: payment}
    default: -1
  - name: customer_amount_stddev_1d
    entity: customer_id
    aggregate: stddev
    field: amount
    window: 1d
    filter: {type: payment}
  - name: customer_amount_sum_1h_d10m
    entity: customer_id
    aggregate: sum
    field: amount
    window: 1h
    delay: 10m
    filter: {type: payment}
  - name: customer_small_count_1h
    entity: customer_id
    aggregate: count
    window: 1h
    filter: {type: payment, amount: {lt: 20}}
  - name: customer_mid_count_6h
    entity: customer_id
    aggregate: count
    window: 6h
    filter: {type: {not_in: [login, label]}, amount: {gte: 50, lte: 200}}
  - name: customer_no_amount_count_1d
    entity: customer_id
    aggregate: count
    window: 1d
    filter: {type: {ne: label}, amount: {exists: false}}
  - name: customer_login_success_rate_1d
    entity: customer_id
    aggregate: avg
    field: success
    window: 1d
    filter: {type: login}
  - name: customer_ip_distinct_1d
    entity: customer_id
    aggregate: distinct
    field: ip
    window: 1d
    filter: {type: [payment, login]}
  - name: customer_last_ip_2h
    entity: customer_id
    aggregate: last
    field: ip
    window: 2h
  - name: customer_device_first_seen_age
    entity: [customer_id, device_id]
    aggregate: first_seen_age
    window: 2h
  - name: customer_device_count_1d
    entity: [customer_id, device_id]
    aggregate: count
    window: 1d
  - name: terminal_fraud_count_1d_d1h
    entity: terminal_id
    aggregate: count
    window: 1d
    delay: 1h
    at: event_ts
    lateness: 4d
    filter: {type: label, fraud: true}
  - name: terminal_tx_count_1d_d1h
    entity: terminal_id
    aggregate: count
    window: 1d
    delay: 1h
    filter: {type: payment}
  - name: terminal_risk_1d_d1h
    aggregate: ratio
    numerator: terminal_fraud_count_1d_d1h
    denominator: terminal_tx_count_1d_d1h
    default: 0
  - name: customer_amount_mean_1h
    aggregate: ratio
    numerator: customer_amount_sum_1h
    denominator: customer_count_1h
`

// refEngine is the reference: the same watermark, lateness and duplicate
// rules, and every feature computed by scanning all applied contributions.
type refEngine struct {
	specs    *Specs
	lateness time.Duration
	wm       int64 // seconds; math.MinInt64 before any
	ids      map[string]int64
	horizon  int64
	applied  map[string][]refContribution // feature name + entity key → applied contributions, in order
}

type refContribution struct {
	at     int64 // seconds
	fields map[string]any
}

func newRefEngine(specs *Specs, lateness time.Duration) *refEngine {
	r := &refEngine{specs: specs, lateness: lateness, wm: math.MinInt64, ids: map[string]int64{}, applied: map[string][]refContribution{}}
	r.horizon = int64(lateness / time.Second)
	for _, f := range specs.Features {
		if f.Lateness != nil {
			r.horizon = max(r.horizon, int64(*f.Lateness/time.Second))
		}
	}
	return r
}

func (r *refEngine) featureLateness(f *Feature) int64 {
	if f.Lateness != nil {
		return int64(*f.Lateness / time.Second)
	}
	return int64(r.lateness / time.Second)
}

func refKey(f *Feature, fields map[string]any) (string, bool) {
	parts := make([]string, len(f.Entity))
	for i, name := range f.Entity {
		s, ok := fields[name].(string)
		if !ok || s == "" {
			return "", false
		}
		parts[i] = s
	}
	return f.Name + "|" + strings.Join(parts, "\x00"), true
}

// refMatch is the filter semantics written out independently of Filter.
func refMatch(conds Filter, fields map[string]any) bool {
	for _, c := range conds {
		v, present := fields[c.Field]
		switch c.Op {
		case OpExists:
			if present != c.Value.(bool) {
				return false
			}
			continue
		}
		if !present {
			return false
		}
		var ok bool
		switch c.Op {
		case OpEq:
			ok = fmt.Sprint(v) == fmt.Sprint(c.Value) && fmt.Sprintf("%T", v) == fmt.Sprintf("%T", c.Value)
		case OpNe:
			ok = !(fmt.Sprint(v) == fmt.Sprint(c.Value) && fmt.Sprintf("%T", v) == fmt.Sprintf("%T", c.Value))
		case OpIn, OpNotIn:
			found := false
			for _, e := range c.Value.([]any) {
				if fmt.Sprint(v) == fmt.Sprint(e) && fmt.Sprintf("%T", v) == fmt.Sprintf("%T", e) {
					found = true
				}
			}
			ok = found == (c.Op == OpIn)
		default:
			x, isNum := v.(float64)
			y := c.Value.(float64)
			ok = isNum && map[Op]bool{OpLt: x < y, OpLte: x <= y, OpGt: x > y, OpGte: x >= y}[c.Op]
		}
		if !ok {
			return false
		}
	}
	return true
}

// apply mirrors Engine.Apply; it returns the features and whether the
// record was a duplicate or had a late contribution.
func (r *refEngine) apply(rec record.Record) (map[string]any, bool, bool) {
	t := rec.Time.Unix()
	if at, ok := r.ids[rec.ID]; ok && r.wm != math.MinInt64 && at > r.wm-r.horizon {
		return r.read(rec), true, false
	}
	r.ids[rec.ID] = t
	r.wm = max(r.wm, t)
	late := false
	for i := range r.specs.Features {
		f := &r.specs.Features[i]
		if f.Aggregate == Ratio {
			continue
		}
		key, ok := refKey(f, rec.Fields)
		if !ok || !refMatch(f.Filter, rec.Fields) {
			continue
		}
		c := t
		if f.At != "" {
			if s, ok := rec.Fields[f.At].(string); ok {
				ts, err := time.Parse(time.RFC3339Nano, s)
				if err != nil {
					panic(err)
				}
				c = ts.Unix()
			}
		}
		if c < r.wm-r.featureLateness(f) {
			late = true
			continue
		}
		r.applied[key] = append(r.applied[key], refContribution{c, rec.Fields})
	}
	return r.read(rec), false, late
}

func (r *refEngine) read(rec record.Record) map[string]any {
	t := rec.Time.Unix()
	out := map[string]any{}
	state := map[string]string{} // name → "value", "undefined" or "" (not read)
	for i := range r.specs.Features {
		f := &r.specs.Features[i]
		if f.Aggregate == Ratio {
			continue
		}
		key, ok := refKey(f, rec.Fields)
		if !ok {
			continue
		}
		v, defined := refValue(f, r.applied[key], t)
		switch {
		case defined:
			out[f.Name], state[f.Name] = v, "value"
		case f.Default != nil:
			out[f.Name], state[f.Name] = f.Default, "undefined"
		default:
			state[f.Name] = "undefined"
		}
	}
	for i := range r.specs.Features {
		f := &r.specs.Features[i]
		if f.Aggregate != Ratio || state[f.Numerator] == "" || state[f.Denominator] == "" {
			continue
		}
		num, okn := out[f.Numerator].(float64)
		den, okd := out[f.Denominator].(float64)
		if okn && okd && den != 0 {
			out[f.Name] = num / den
		} else if f.Default != nil {
			out[f.Name] = f.Default
		}
	}
	return out
}

// refValue computes one feature from the contributions applied to its key.
func refValue(f *Feature, cs []refContribution, t int64) (any, bool) {
	window, delay := int64(f.Window/time.Second), int64(f.Delay/time.Second)
	hi := t - delay
	lo := hi - window
	var in []refContribution
	for _, c := range cs {
		if c.at > lo && c.at <= hi {
			in = append(in, c)
		}
	}
	var nums []float64
	for _, c := range in {
		switch x := c.fields[f.Field].(type) {
		case float64:
			nums = append(nums, x)
		case bool:
			nums = append(nums, map[bool]float64{true: 1, false: 0}[x])
		}
	}
	switch f.Aggregate {
	case Count:
		return float64(len(in)), true
	case Sum:
		return exactSum(nums), true
	case Avg:
		if len(nums) == 0 {
			return nil, false
		}
		return exactSum(nums) / float64(len(nums)), true
	case Min:
		if len(nums) == 0 {
			return nil, false
		}
		return slices.Min(nums), true
	case Max:
		if len(nums) == 0 {
			return nil, false
		}
		return slices.Max(nums), true
	case Stddev:
		if len(nums) < 2 {
			return nil, false
		}
		return exactStddev(nums), true
	case Distinct:
		seen := map[string]bool{}
		for _, c := range in {
			if v, ok := c.fields[f.Field]; ok {
				seen[fmt.Sprintf("%T:%v", v, v)] = true
			}
		}
		return float64(len(seen)), true
	case Last:
		var best *refContribution
		for i := range in {
			if _, ok := in[i].fields[f.Field]; ok && (best == nil || in[i].at >= best.at) {
				best = &in[i]
			}
		}
		if best == nil {
			return nil, false
		}
		return best.fields[f.Field], true
	case FirstSeenAge:
		var times []int64
		for _, c := range cs {
			if c.at <= t {
				times = append(times, c.at)
			}
		}
		if len(times) == 0 {
			return nil, false
		}
		slices.Sort(times)
		first := times[len(times)-1]
		if t-first >= window {
			return nil, false
		}
		for i := len(times) - 2; i >= 0 && first-times[i] < window; i-- {
			first = times[i]
		}
		return float64(t - first), true
	}
	panic("aggregate " + f.Aggregate)
}

func exactSum(xs []float64) float64 {
	s := new(big.Float).SetPrec(2000)
	for _, x := range xs {
		s.Add(s, big.NewFloat(x))
	}
	f, _ := s.Float64()
	return f
}

func exactStddev(xs []float64) float64 {
	const prec = 2000
	s := new(big.Float).SetPrec(prec)
	for _, x := range xs {
		s.Add(s, big.NewFloat(x))
	}
	n := new(big.Float).SetPrec(prec).SetInt64(int64(len(xs)))
	mean := new(big.Float).SetPrec(prec).Quo(s, n)
	m2 := new(big.Float).SetPrec(prec)
	for _, x := range xs {
		d := new(big.Float).SetPrec(prec).Sub(big.NewFloat(x), mean)
		m2.Add(m2, d.Mul(d, d))
	}
	v, _ := m2.Quo(m2, n.Sub(n, big.NewFloat(1))).Float64()
	return math.Sqrt(v)
}

// stream generates a seeded random stream of payments, logins and labels
// over a few customers, devices and terminals: mostly in order, some out
// of order within the lateness, some late, some duplicates.
type stream struct {
	rnd      *rand.Rand
	norm     normalizer
	now      time.Time
	lateness time.Duration
	n        int
	sent     []map[string]any
}

func (s *stream) next() (rec record.Record, kind string) {
	s.n++
	if len(s.sent) > 0 && s.rnd.IntN(30) == 0 { // a duplicate
		return s.norm.rec(clone(s.sent[s.rnd.IntN(len(s.sent))])), "duplicate"
	}
	s.now = s.now.Add(time.Duration(s.rnd.IntN(240)) * time.Second)
	ts, kind := s.now, "in order"
	switch p := s.rnd.IntN(100); {
	case p < 8:
		ts, kind = s.now.Add(-time.Duration(s.rnd.Int64N(int64(s.lateness/time.Second)))*time.Second), "out of order"
	case p < 11:
		ts, kind = s.now.Add(-s.lateness-time.Duration(1+s.rnd.IntN(7200))*time.Second), "late"
	}
	f := map[string]any{
		"id":          fmt.Sprintf("r-%d", s.n),
		"ts":          ts,
		"customer_id": fmt.Sprintf("c%d", s.rnd.IntN(6)),
	}
	if s.rnd.IntN(10) > 0 {
		f["device_id"] = fmt.Sprintf("d%d", s.rnd.IntN(4))
	}
	if s.rnd.IntN(5) > 0 {
		f["ip"] = fmt.Sprintf("10.0.0.%d", s.rnd.IntN(12))
	}
	switch p := s.rnd.IntN(100); {
	case p < 65:
		f["type"] = "payment"
		f["terminal_id"] = fmt.Sprintf("t%d", s.rnd.IntN(4))
		if s.rnd.IntN(8) > 0 {
			// Amounts in cents, some large, so sums need more than 53 bits of care.
			f["amount"] = float64(s.rnd.IntN(30000)) / 100
			if s.rnd.IntN(20) == 0 {
				f["amount"] = float64(s.rnd.IntN(1e9)) + 0.01
			}
		}
	case p < 85:
		f["type"] = "login"
		f["success"] = s.rnd.IntN(3) > 0
	default:
		f["type"] = "label"
		f["id"] = fmt.Sprintf("label-%d", s.n)
		f["fraud"] = s.rnd.IntN(3) == 0
		f["event_ts"] = ts.Add(-time.Duration(s.rnd.IntN(3*86400)) * time.Second)
		if s.rnd.IntN(6) > 0 {
			f["terminal_id"] = fmt.Sprintf("t%d", s.rnd.IntN(4))
		}
	}
	s.sent = append(s.sent, clone(f))
	return s.norm.rec(f), kind
}

func clone(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func TestAgainstReference(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			specs := mustSpecs(t, referenceSpecs, shippedSchema(t))
			const lateness = 10 * time.Minute
			// No bucket cap here: merged buckets are tested on their own.
			e := mustEngine(t, specs, nil, Options{Lateness: lateness, MaxBuckets: 1 << 20})
			ref := newRefEngine(specs, lateness)
			s := &stream{rnd: rand.New(rand.NewPCG(seed, 7)), norm: newNormalizer(t), now: t0, lateness: lateness}
			kinds := map[string]int{}
			defined := map[string]int{}
			dups := 0
			for range 3000 {
				rec, kind := s.next()
				got, out := e.Apply(rec)
				want, dup, late := ref.apply(rec)
				kinds[kind]++
				if out.Duplicate != dup || (out.Late > 0) != late {
					t.Fatalf("record %s (%s): outcome %+v, want duplicate=%v late=%v", rec.ID, kind, out, dup, late)
				}
				if dup {
					dups++
				}
				if rec.Time.Unix() < ref.wm-int64(lateness/time.Second) {
					continue // a late record reads only what is still within retention
				}
				compareFeatures(t, fmt.Sprintf("record %s (%s) at %s", rec.ID, kind, rec.Time.Format(time.RFC3339)), got, want)
				for k := range want {
					defined[k]++
				}
			}
			for _, f := range specs.Features {
				if defined[f.Name] == 0 {
					t.Errorf("feature %s was never defined: the stream does not exercise it", f.Name)
				}
			}
			if kinds["duplicate"] == 0 || kinds["late"] == 0 || kinds["out of order"] == 0 {
				t.Errorf("stream kinds %v: want duplicates, late and out-of-order records", kinds)
			}
			st := e.Stats()
			if dups == 0 || st.Duplicates != uint64(dups) || st.Late == 0 {
				t.Errorf("stats %+v, want %d duplicates and some late contributions", st, dups)
			}
		})
	}
}

// compareFeatures wants exactly the same features; sums, counts, extremes
// and exact values equal, averages and spreads within 1e-12 relative.
func compareFeatures(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Fatalf("%s: %s missing, want %v (got %v)", what, k, w, got)
		}
		if !sameValue(k, g, w) {
			t.Fatalf("%s: %s = %v, want %v", what, k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Fatalf("%s: %s = %v, want it absent", what, k, g)
		}
	}
}

func sameValue(name string, got, want any) bool {
	g, gok := got.(float64)
	w, wok := want.(float64)
	if !gok || !wok {
		return got == want
	}
	if strings.Contains(name, "avg") || strings.Contains(name, "stddev") || strings.Contains(name, "rate") ||
		strings.Contains(name, "risk") || strings.Contains(name, "mean") {
		return relClose(g, w, 1e-12)
	}
	return g == w
}

func relClose(got, want, tol float64) bool {
	if got == want {
		return true
	}
	return math.Abs(got-want) <= tol*math.Max(math.Abs(want), 1e-300)
}
