package feature

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/record"
)

const benchSpecs = `version: 1
features:
  - {name: card_small_payment_count_1m, entity: card_id, aggregate: count, window: 1m, filter: {type: payment, amount: {lt: 10}}}
  - {name: card_payment_count_10m, entity: card_id, aggregate: count, window: 10m, filter: {type: payment}}
  - {name: card_amount_sum_1h, entity: card_id, aggregate: sum, field: amount, window: 1h, filter: {type: payment}}
  - {name: card_amount_avg_1d, entity: card_id, aggregate: avg, field: amount, window: 1d, filter: {type: payment}}
  - {name: customer_payment_count_1d, entity: customer_id, aggregate: count, window: 1d, filter: {type: payment}}
  - {name: customer_amount_avg_30d, entity: customer_id, aggregate: avg, field: amount, window: 30d, filter: {type: payment}}
  - {name: customer_amount_stddev_30d, entity: customer_id, aggregate: stddev, field: amount, window: 30d, filter: {type: payment}}
  - {name: customer_device_distinct_1d, entity: customer_id, aggregate: distinct, field: device_id, window: 1d}
  - {name: customer_ip_distinct_1d, entity: customer_id, aggregate: distinct, field: ip, window: 1d}
  - {name: customer_device_first_seen_age, entity: [customer_id, device_id], aggregate: first_seen_age, window: 90d}
`

// benchStream is a stream of payments over customers entities (a card and
// up to three devices each), 10ms apart. As in the pipeline, the record in
// hand is fresh in the cache and the entities' state is not: a few record
// maps are reused, their entity fields set from pools of strings made
// beforehand, so that the stream costs no allocation of its own.
type benchStream struct {
	recs                  []record.Record
	ids                   []string
	customers, cards      []any // boxed beforehand: storing a string in a map[string]any allocates
	devices, ips, amounts []any
	picks                 []int32
	n                     int
	step                  time.Duration // between records; 0: 10ms
}

func newBenchStream(b testing.TB, customers int) *benchStream {
	norm := newNormalizer(b)
	rnd := rand.New(rand.NewPCG(1, 2))
	s := &benchStream{}
	for i := range 16 {
		s.recs = append(s.recs, norm.rec(map[string]any{
			"id": "tx", "ts": t0, "type": "payment", "customer_id": "c", "card_id": "k",
			"device_id": "d", "ip": "10.0.0.1", "amount": float64(i),
		}))
	}
	for c := range customers {
		s.customers = append(s.customers, any("cust-"+strconv.Itoa(c)))
		s.cards = append(s.cards, any("card-"+strconv.Itoa(c)))
		for d := range 3 {
			s.devices = append(s.devices, any("dev-"+strconv.Itoa(c)+"-"+strconv.Itoa(d)))
		}
	}
	for i := range 1 << 16 {
		s.ids = append(s.ids, "tx-"+strconv.Itoa(i))
		s.ips = append(s.ips, any("10.1."+strconv.Itoa(rnd.IntN(256))+"."+strconv.Itoa(rnd.IntN(256))))
		s.picks = append(s.picks, int32(rnd.IntN(customers)))
		s.amounts = append(s.amounts, any(float64(rnd.IntN(20000))/100))
	}
	return s
}

// next returns the next record; it is valid until the 16th call after.
func (s *benchStream) next() record.Record {
	i := s.n
	s.n++
	r := s.recs[i%len(s.recs)]
	c := int(s.picks[i%len(s.picks)])
	r.ID = s.ids[i%len(s.ids)] // 65536 ids span 11 minutes: more than the dedup horizon
	step := s.step
	if step == 0 {
		step = 10 * time.Millisecond
	}
	r.Time = t0.Add(time.Duration(i) * step)
	r.Fields["customer_id"] = s.customers[c]
	r.Fields["card_id"] = s.cards[c]
	r.Fields["device_id"] = s.devices[3*c+i%3]
	r.Fields["ip"] = s.ips[(i*7)%len(s.ips)]
	r.Fields["amount"] = s.amounts[i%len(s.amounts)]
	return r
}

// BenchmarkApply10Features: update and read of ten features (count, sum,
// avg, stddev, distinct, first_seen_age over cards, customers and
// customer-device pairs) per record, over 100k customers (400k entities).
func BenchmarkApply10Features(b *testing.B) {
	s := newBenchStream(b, 100_000)
	e := mustEngine(b, mustSpecs(b, benchSpecs, shippedSchema(b)), nil, Options{})
	for range 300_000 { // warm up: the entities exist, as in a running system
		e.Apply(s.next())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if got, _ := e.Apply(s.next()); len(got) != 10 {
			b.Fatalf("%d features: %v", len(got), got)
		}
	}
}

// BenchmarkApply10FeaturesHeavy is the same over 1000 customers, each with
// hundreds of records in the windows: full bucket lists, distinct sketches.
func BenchmarkApply10FeaturesHeavy(b *testing.B) {
	s := newBenchStream(b, 1000)
	e := mustEngine(b, mustSpecs(b, benchSpecs, shippedSchema(b)), nil, Options{})
	for range 300_000 {
		e.Apply(s.next())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		e.Apply(s.next())
	}
}

// BenchmarkMemoryPerEntityFeature measures the heap one entity-feature
// takes: 1M entities, each with one contribution, in a 1h count (or sum)
// feature, and in five features of one entity kind. Records carry no id,
// so the dedup set is not counted.
func BenchmarkMemoryPerEntityFeature(b *testing.B) {
	cases := []struct {
		name, specs string
		features    int
	}{
		{"count_1h", `version: 1
features:
  - {name: customer_count_1h, entity: customer_id, aggregate: count, window: 1h}
`, 1},
		{"sum_1h", `version: 1
features:
  - {name: customer_amount_sum_1h, entity: customer_id, aggregate: sum, field: amount, window: 1h}
`, 1},
		{"five_features_1h", `version: 1
features:
  - {name: customer_count_1h, entity: customer_id, aggregate: count, window: 1h}
  - {name: customer_amount_sum_1h, entity: customer_id, aggregate: sum, field: amount, window: 1h}
  - {name: customer_amount_avg_1h, entity: customer_id, aggregate: avg, field: amount, window: 1h}
  - {name: customer_amount_max_1h, entity: customer_id, aggregate: max, field: amount, window: 1h}
  - {name: customer_device_distinct_1h, entity: customer_id, aggregate: distinct, field: device_id, window: 1h}
`, 5},
	}
	const entities = 1_000_000
	names := make([]string, entities)
	for i := range names {
		names[i] = fmt.Sprintf("cust-%07d", i)
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			specs := mustSpecs(b, tc.specs, shippedSchema(b))
			fields := map[string]any{"type": "payment", "amount": 12.5, "device_id": "dev-1"}
			var perEntity float64
			for range b.N {
				e := mustEngine(b, specs, nil, Options{})
				before := heapAlloc()
				for i, name := range names {
					fields["customer_id"] = name
					e.Apply(record.Record{Type: "payment", Time: t0.Add(time.Duration(i) * time.Millisecond), Fields: fields})
				}
				after := heapAlloc()
				if got := e.Stats().Store.Entities; got != entities {
					b.Fatalf("%d entities, want %d", got, entities)
				}
				perEntity = float64(after-before) / entities
				runtime.KeepAlive(e)
			}
			b.ReportMetric(perEntity, "B/entity")
			b.ReportMetric(perEntity/float64(tc.features), "B/entity-feature")
		})
	}
}

func heapAlloc() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkReplayFDH replays the handbook sample (200 transactions and
// their labels) again and again, shifted in time, through the handbook's
// 18 features: the replay rate of a backtest.
func BenchmarkReplayFDH(b *testing.B) {
	recs, _ := readFDH(b, "../../fixtures/fdh/transactions-sample.csv")
	e := mustEngine(b, mustSpecs(b, fdhSpecs(), shippedSchema(b)), nil, Options{})
	// Each lap starts after every window, the retention and the dedup
	// horizon (40d, the labels' lateness) of the lap before: a fresh replay.
	const lap = 41 * day
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := recs[i%len(recs)]
		r.Time = r.Time.Add(lap * time.Duration(i/len(recs)))
		e.Apply(r)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkApplyDistinct24h: the starter pack's two distinct features
// (devices: a few per customer, exact; IP addresses: many, sketches) over
// 24h windows, 1000 customers each with a record every 1000s or so: every
// read spans a day of buckets.
func BenchmarkApplyDistinct24h(b *testing.B) {
	s := newBenchStream(b, 1000)
	s.step = time.Second
	e := mustEngine(b, mustSpecs(b, `version: 1
features:
  - {name: customer_device_distinct_24h, entity: customer_id, aggregate: distinct, field: device_id, window: 24h}
  - {name: customer_ip_distinct_24h, entity: customer_id, aggregate: distinct, field: ip, window: 24h}
`, shippedSchema(b)), nil, Options{})
	for range 100_000 { // a day and more: every window is full
		e.Apply(s.next())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if got, _ := e.Apply(s.next()); len(got) != 2 {
			b.Fatalf("%d features: %v", len(got), got)
		}
	}
}
