package feature

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// seriesOf digs out the state of one entity's series of the given kind.
func seriesOf[S series](t *testing.T, e *Engine, entityValue string) S {
	t.Helper()
	var found S
	var ok bool
	e.store.Range(func(ent *Entity) error {
		if strings.HasSuffix(ent.key, entityValue) {
			for _, sl := range ent.slots {
				if s, is := sl.s.(S); is {
					found, ok = s, true
				}
			}
		}
		return nil
	})
	if !ok {
		t.Fatalf("no %T for %s", found, entityValue)
	}
	return found
}

// Past MaxBuckets, buckets merge; counts and sums stay exact while no bucket
// straddles a window edge, and a straddling one counts in proportion.
func TestBucketCap(t *testing.T) {
	specs := mustSpecs(t, `version: 1
features:
  - {name: card_count_1h, entity: card_id, aggregate: count, window: 1h}
  - {name: card_amount_sum_1h, entity: card_id, aggregate: sum, field: amount, window: 1h}
  - {name: card_count_5m, entity: card_id, aggregate: count, window: 5m}
`, shippedSchema(t))
	e := mustEngine(t, specs, nil, Options{MaxBuckets: 4})
	n := newNormalizer(t)
	var got map[string]any
	var sum []float64
	for i := range 30 { // every 10s for 5 minutes
		amount := float64(i)*1.01 + 0.07
		sum = append(sum, amount)
		got, _ = e.Apply(n.rec(pay(fmt.Sprint(i), time.Duration(i)*10*time.Second, "card_id", "c", "amount", amount)))
	}
	s := seriesOf[*statsSeries](t, e, "c")
	if len(s.b) > 4 || len(s.m) != len(s.b) {
		t.Fatalf("%d buckets (%d moments), want at most 4", len(s.b), len(s.m))
	}
	if got["card_count_1h"] != 30.0 || got["card_amount_sum_1h"] != exactSum(sum) {
		t.Fatalf("got %v, want 30 records summing to %v", got, exactSum(sum))
	}
	// (−10s, 290s] holds all 30 records; a coarse bucket straddling −10s...
	// there is none, so the 5m count is exact too.
	if got["card_count_5m"] != 30.0 {
		t.Fatalf("5m count %v", got["card_count_5m"])
	}
	// Two minutes later the 5m window edge cuts through merged buckets: the
	// share inside is counted in proportion, between the exact bounds.
	got = e.Read(n.rec(pay("x", 7*time.Minute, "card_id", "c")))
	c := got["card_count_5m"].(float64)
	if c < 17 || c > 19 { // exactly 18 records fall in (120s, 420s]
		t.Fatalf("5m count across merged buckets = %v, want about 18", c)
	}
}

func TestExpiryAndSweep(t *testing.T) {
	specs := mustSpecs(t, `version: 1
features:
  - {name: card_count_1m, entity: card_id, aggregate: count, window: 1m}
`, shippedSchema(t))
	e := mustEngine(t, specs, NewMemoryStore(MemoryOptions{Shards: 1}), Options{Lateness: time.Minute})
	n := newNormalizer(t)
	for i := range 100 {
		e.Apply(n.rec(pay(fmt.Sprint("a", i), 0, "card_id", fmt.Sprint("old-", i))))
	}
	// Retention is 1m window + 1m lateness: at 2m the old cards are dead.
	// New cards sweep two old ones each as they come.
	for i := range 10 {
		e.Apply(n.rec(pay(fmt.Sprint("b", i), 2*time.Minute, "card_id", fmt.Sprint("new-", i))))
	}
	if st := e.Stats().Store; st.Expired < 10 || st.Entities != 110-int(st.Expired) {
		t.Fatalf("after incremental sweeps: %+v, want at least one old card gone per new one", st)
	}
	// Dead state reads as nothing, swept or not.
	if got := e.Read(n.rec(pay("r", 2*time.Minute, "card_id", "old-99"))); got["card_count_1m"] != 0.0 {
		t.Fatalf("expired card reads %v", got)
	}
	if swept := e.Sweep(); swept == 0 || e.Stats().Store.Entities != 10 {
		t.Fatalf("Sweep removed %d, leaving %d: want the old cards gone", swept, e.Stats().Store.Entities)
	}
	if st := e.Stats().Store; st.Entities != 10 || st.Expired != 100 {
		t.Fatalf("after Sweep: %+v", st)
	}
	if got, _ := e.Apply(n.rec(pay("c", 2*time.Minute, "card_id", "old-5"))); got["card_count_1m"] != 1.0 {
		t.Fatalf("an expired card comes back new: %v", got)
	}
}

func TestEntityCapEviction(t *testing.T) {
	specs := mustSpecs(t, `version: 1
features:
  - {name: card_count_1h, entity: card_id, aggregate: count, window: 1h}
`, shippedSchema(t))
	reg := prometheus.NewPedanticRegistry()
	e := mustEngine(t, specs, NewMemoryStore(MemoryOptions{Shards: 1, MaxEntities: 10}), Options{Registerer: reg})
	n := newNormalizer(t)
	for i := range 25 {
		e.Apply(n.rec(pay(fmt.Sprint(i), time.Duration(i)*time.Second, "card_id", fmt.Sprint("card-", i))))
		// card-0 stays the most recently updated: it is never evicted.
		e.Apply(n.rec(pay(fmt.Sprint("keep", i), time.Duration(i)*time.Second, "card_id", "card-0")))
	}
	if st := e.Stats().Store; st.Entities != 10 || st.Evicted != 15 {
		t.Fatalf("store %+v, want 10 entities, 15 evicted", st)
	}
	if got := e.Read(n.rec(pay("r", 25*time.Second, "card_id", "card-0"))); got["card_count_1h"] != 26.0 {
		t.Fatalf("card-0 = %v, want its 26 records", got)
	}
	if got := metricValue(t, reg, "vigil_feature_entity_evictions_total"); got != 15 {
		t.Fatalf("evictions metric %v", got)
	}
	if got := metricValue(t, reg, "vigil_feature_entities"); got != 10 {
		t.Fatalf("entities metric %v", got)
	}
	if _, err := NewEngine(specs, nil, Options{Registerer: reg}); err == nil {
		t.Fatal("a second engine on the same registry must fail to register")
	}
}

// metricValue gathers the registry and returns the named metric's value.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			if m := mf.GetMetric()[0]; m.Counter != nil {
				return m.Counter.GetValue()
			} else {
				return m.Gauge.GetValue()
			}
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestReconfigureKeepsState(t *testing.T) {
	schema := shippedSchema(t)
	e := mustEngine(t, mustSpecs(t, `version: 1
features:
  - {name: card_count_1h, entity: card_id, aggregate: count, window: 1h, filter: {type: payment}}
  - {name: card_amount_avg_1h, entity: card_id, aggregate: avg, field: amount, window: 1h, filter: {type: payment}}
  - {name: card_small_count_1h, entity: card_id, aggregate: count, window: 1h, filter: {type: payment, amount: {lt: 5}}}
`, schema), nil, Options{})
	n := newNormalizer(t)
	for i := range 4 {
		e.Apply(n.rec(pay(fmt.Sprint(i), time.Duration(i)*time.Minute, "card_id", "c", "amount", float64(i*2))))
	}
	// The stats series is unchanged (a new reader of it comes for free);
	// the small-count filter changes, so its series starts over.
	e.Reconfigure(mustSpecs(t, `version: 1
features:
  - {name: card_amount_sum_1d, entity: card_id, aggregate: sum, field: amount, window: 1d, filter: {type: payment}}
  - {name: card_count_1h, entity: card_id, aggregate: count, window: 1h, filter: {type: payment}}
  - {name: card_small_count_1h, entity: card_id, aggregate: count, window: 1h, filter: {type: payment, amount: {lt: 3}}}
`, schema))
	got := e.Read(n.rec(pay("r", 5*time.Minute, "card_id", "c")))
	want := map[string]any{"card_amount_sum_1d": 12.0, "card_count_1h": 4.0, "card_small_count_1h": 0.0}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after Reconfigure: %v, want %v", got, want)
	}
	got, _ = e.Apply(n.rec(pay("x", 6*time.Minute, "card_id", "c", "amount", 1.0)))
	want = map[string]any{"card_amount_sum_1d": 13.0, "card_count_1h": 5.0, "card_small_count_1h": 1.0}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("then: %v, want %v", got, want)
	}
	if len(seriesOf[*countSeries](t, e, "c").b) != 1 {
		t.Fatal("the old small-count series should be gone from the entity")
	}
}

// The sketch's estimate is within three standard errors (3 × 1.04/√256).
func TestHyperLogLog(t *testing.T) {
	const sigma = 1.04 / 16
	for _, n := range []int{1, 10, 100, 1000, 10_000, 100_000} {
		var r hllRegs
		for i := range n {
			r.insert(xxhash.Sum64String(fmt.Sprint("value-", i)))
			r.insert(xxhash.Sum64String(fmt.Sprint("value-", i/2))) // repeats do not count
		}
		est := r.estimate()
		if math.Abs(est-float64(n)) > 3*sigma*float64(n)+0.5 {
			t.Errorf("%d distinct: estimate %.1f, outside 3σ", n, est)
		}
	}
	var empty hllRegs
	if empty.estimate() != 0 {
		t.Errorf("empty sketch estimates %v", empty.estimate())
	}
	// Merging two sketches estimates their union.
	var a, b hllRegs
	for i := range 50_000 {
		a.insert(xxhash.Sum64String(fmt.Sprint(i)))
		b.insert(xxhash.Sum64String(fmt.Sprint(i + 25_000)))
	}
	a.merge(&b)
	if est := a.estimate(); math.Abs(est-75_000) > 3*sigma*75_000 {
		t.Errorf("union of 75000: estimate %.0f", est)
	}
}

// distinct is exact up to DistinctExact values, then estimates within 3σ.
func TestDistinctSketch(t *testing.T) {
	specs := mustSpecs(t, `version: 1
features:
  - {name: terminal_card_distinct_1d, entity: terminal_id, aggregate: distinct, field: card_id, window: 1d}
`, shippedSchema(t))
	e := mustEngine(t, specs, nil, Options{})
	n := newNormalizer(t)
	rnd := rand.New(rand.NewPCG(3, 4))
	var got map[string]any
	seen := map[string]bool{}
	for i := range 100_000 {
		card := fmt.Sprint("card-", i)
		if i > 0 && rnd.IntN(4) == 0 {
			card = fmt.Sprint("card-", rnd.IntN(i)) // often a repeat
		}
		seen[card] = true
		got, _ = e.Apply(n.rec(pay(fmt.Sprint(i), time.Duration(i)*100*time.Millisecond, "terminal_id", "T", "card_id", card)))
		if len(seen) <= DefaultDistinctExact && got["terminal_card_distinct_1d"] != float64(len(seen)) {
			t.Fatalf("record %d: %v, want exactly %d", i, got, len(seen))
		}
	}
	distinct := float64(len(seen))
	est := got["terminal_card_distinct_1d"].(float64)
	if math.Abs(est-distinct) > 3*1.04/16*distinct {
		t.Fatalf("%v distinct cards: estimate %v, outside 3σ", distinct, est)
	}
	if s := seriesOf[*distinctSeries](t, e, "T"); !s.sketch || len(s.b) > DefaultMaxBuckets/8 {
		t.Fatalf("sketch=%v with %d buckets", s.sketch, len(s.b))
	}
}

// Double-double sums are the exact sum correctly rounded, whatever the
// bucket grouping and order.
func TestExactSums(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	for round := range 200 {
		var xs []float64
		for range 1 + rnd.IntN(400) {
			switch rnd.IntN(3) {
			case 0:
				xs = append(xs, float64(rnd.IntN(1_000_000))/100) // cents
			case 1:
				xs = append(xs, float64(rnd.IntN(1e9))*1e3+0.01)
			default:
				xs = append(xs, -float64(rnd.IntN(1e6))/1000)
			}
		}
		want := exactSum(xs)
		// Into random buckets, then folded in random order, with both adders.
		buckets := make([]dd, 1+rnd.IntN(20))
		for _, x := range xs {
			buckets[rnd.IntN(len(buckets))].add(x)
		}
		rnd.Shuffle(len(buckets), func(i, j int) { buckets[i], buckets[j] = buckets[j], buckets[i] })
		var viaAcc acc
		var viaDD dd
		for _, b := range buckets {
			viaAcc.add(b)
			viaDD.addDD(b)
		}
		if got := viaAcc.result(); got.hi+got.lo != want {
			t.Fatalf("round %d: acc sum %v, want %v", round, got.hi+got.lo, want)
		}
		if viaDD.hi+viaDD.lo != want {
			t.Fatalf("round %d: dd sum %v, want %v", round, viaDD.hi+viaDD.lo, want)
		}
	}
	// A small spread around a large mean keeps its digits.
	var s, q dd
	for _, x := range []float64{1e9 + 0.01, 1e9 + 0.02, 1e9 + 0.03} {
		s.add(x)
		q.addSquare(x)
	}
	if sd := math.Sqrt(sampleVariance(3, s, q)); !relClose(sd, exactStddev([]float64{1e9 + 0.01, 1e9 + 0.02, 1e9 + 0.03}), 1e-9) {
		t.Fatalf("stddev %v", sd)
	}
}
