package feature

import (
	"fmt"
	"maps"
	"testing"
	"time"
)

// step is one record fed to an engine and what must come back.
type step struct {
	fields map[string]any
	want   map[string]any // every feature, exactly
	out    Outcome
}

func runSteps(t *testing.T, specs string, o Options, steps []step) *Engine {
	t.Helper()
	e := mustEngine(t, mustSpecs(t, specs, shippedSchema(t)), nil, o)
	n := newNormalizer(t)
	for i, s := range steps {
		got, out := e.Apply(n.rec(s.fields))
		if !maps.Equal(got, s.want) || out != s.out {
			t.Fatalf("step %d %v:\ngot  %v %+v\nwant %v %+v", i, s.fields, got, out, s.want, s.out)
		}
	}
	return e
}

func pay(id string, d time.Duration, extra ...any) map[string]any {
	m := map[string]any{"id": id, "ts": at(d), "type": "payment"}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	return m
}

var applied = Outcome{Applied: 1}

func TestWindowEdges(t *testing.T) {
	// (t − window, t]: a contribution exactly a window old is out.
	runSteps(t, `version: 1
features:
  - {name: card_count_1m, entity: card_id, aggregate: count, window: 1m}
`, Options{}, []step{
		{pay("a", 0, "card_id", "c"), map[string]any{"card_count_1m": 1.0}, applied},
		{pay("b", 59*time.Second, "card_id", "c"), map[string]any{"card_count_1m": 2.0}, applied},
		{pay("c", time.Minute, "card_id", "c"), map[string]any{"card_count_1m": 2.0}, applied}, // a falls out
		{pay("d", time.Minute, "card_id", "c"), map[string]any{"card_count_1m": 3.0}, applied}, // same second: both in
		{pay("e", 2*time.Minute+500*time.Millisecond, "card_id", "c"), map[string]any{"card_count_1m": 1.0}, applied},
	})
}

func TestDelayEdges(t *testing.T) {
	// (t − delay − window, t − delay]: a contribution exactly delay old is in.
	runSteps(t, `version: 1
features:
  - {name: card_count_1h_d1h, entity: card_id, aggregate: count, window: 1h, delay: 1h}
`, Options{}, []step{
		{pay("a", 0, "card_id", "c"), map[string]any{"card_count_1h_d1h": 0.0}, applied}, // itself: not old enough
		{pay("b", time.Hour-time.Second, "card_id", "c"), map[string]any{"card_count_1h_d1h": 0.0}, applied},
		{pay("c", time.Hour, "card_id", "c"), map[string]any{"card_count_1h_d1h": 1.0}, applied},
		{pay("d", 2*time.Hour-time.Second, "card_id", "c"), map[string]any{"card_count_1h_d1h": 2.0}, applied},
		{pay("e", 2*time.Hour, "card_id", "c"), map[string]any{"card_count_1h_d1h": 2.0}, applied}, // a out, c in
	})
}

func TestUndefinedAndDefaults(t *testing.T) {
	specs := `version: 1
features:
  - {name: card_amount_avg, entity: card_id, aggregate: avg, field: amount, window: 1h}
  - {name: card_amount_avg_or_0, entity: card_id, aggregate: avg, field: amount, window: 1h, default: 0}
  - {name: card_amount_min, entity: card_id, aggregate: min, field: amount, window: 1h}
  - {name: card_amount_stddev, entity: card_id, aggregate: stddev, field: amount, window: 1h}
  - {name: card_amount_sum, entity: card_id, aggregate: sum, field: amount, window: 1h}
  - {name: card_count, entity: card_id, aggregate: count, window: 1h}
  - {name: card_success_rate, entity: card_id, aggregate: avg, field: success, window: 1h, filter: {type: login}}
`
	runSteps(t, specs, Options{}, []step{
		// A payment without amount: counted, but no value to average.
		{pay("a", 0, "card_id", "c"), map[string]any{"card_amount_avg_or_0": 0.0, "card_amount_sum": 0.0, "card_count": 1.0}, Outcome{Applied: 1}},
		// One value: avg, min; stddev needs two.
		{pay("b", time.Second, "card_id", "c", "amount", 10.0), map[string]any{
			"card_amount_avg": 10.0, "card_amount_avg_or_0": 10.0, "card_amount_min": 10.0, "card_amount_sum": 10.0, "card_count": 2.0}, Outcome{Applied: 1}},
		{pay("c", 2*time.Second, "card_id", "c", "amount", 20.0), map[string]any{
			"card_amount_avg": 15.0, "card_amount_avg_or_0": 15.0, "card_amount_min": 10.0, "card_amount_sum": 30.0, "card_count": 3.0,
			"card_amount_stddev": 7.0710678118654755}, Outcome{Applied: 1}},
		// A boolean counts as 1 or 0.
		{map[string]any{"id": "l1", "ts": at(3 * time.Second), "type": "login", "card_id": "c", "success": true}, map[string]any{
			"card_amount_avg": 15.0, "card_amount_avg_or_0": 15.0, "card_amount_min": 10.0, "card_amount_sum": 30.0, "card_count": 4.0,
			"card_amount_stddev": 7.0710678118654755, "card_success_rate": 1.0}, Outcome{Applied: 2}},
		{map[string]any{"id": "l2", "ts": at(4 * time.Second), "type": "login", "card_id": "c", "success": false}, map[string]any{
			"card_amount_avg": 15.0, "card_amount_avg_or_0": 15.0, "card_amount_min": 10.0, "card_amount_sum": 30.0, "card_count": 5.0,
			"card_amount_stddev": 7.0710678118654755, "card_success_rate": 0.5}, Outcome{Applied: 2}},
		// No card: none of the card's features.
		{pay("d", 5*time.Second, "amount", 5.0), map[string]any{}, Outcome{}},
		// An empty card id is no card.
		{pay("e", 6*time.Second, "card_id", "", "amount", 5.0), map[string]any{}, Outcome{}},
	})
}

func TestFilterOperators(t *testing.T) {
	tests := []struct {
		filter string
		fields map[string]any
		match  bool
	}{
		{"{type: payment}", map[string]any{"type": "payment"}, true},
		{"{type: payment}", map[string]any{"type": "login"}, false},
		{"{amount: 10}", map[string]any{"amount": 10.0}, true},
		{"{amount: 10}", map[string]any{"amount": "10"}, false},
		{"{fraud: true}", map[string]any{"fraud": true}, true},
		{"{fraud: true}", map[string]any{}, false},
		{"{type: [payment, refund]}", map[string]any{"type": "refund"}, true},
		{"{type: {in: [payment, refund]}}", map[string]any{"type": "login"}, false},
		{"{type: {not_in: [login]}}", map[string]any{"type": "payment"}, true},
		{"{type: {not_in: [login]}}", map[string]any{}, false},
		{"{type: {ne: login}}", map[string]any{"type": "payment"}, true},
		{"{type: {ne: login}}", map[string]any{}, false},
		{"{amount: {lt: 10}}", map[string]any{"amount": 9.99}, true},
		{"{amount: {lt: 10}}", map[string]any{"amount": 10.0}, false},
		{"{amount: {lte: 10}}", map[string]any{"amount": 10.0}, true},
		{"{amount: {gt: 10, lte: 20}}", map[string]any{"amount": 20.0}, true},
		{"{amount: {gte: 10}}", map[string]any{"amount": 9.0}, false},
		{"{amount: {gte: 10}}", map[string]any{"amount": true}, false},
		{"{amount: {exists: true}}", map[string]any{"amount": 1.0}, true},
		{"{amount: {exists: false}}", map[string]any{}, true},
		{"{amount: {exists: false}}", map[string]any{"amount": nil}, true},
		{"{amount: {eq: 3, exists: true}}", map[string]any{"amount": 3.0}, true},
	}
	for _, tt := range tests {
		s := mustSpecs(t, "version: 1\nfeatures:\n  - {name: a, entity: card_id, aggregate: count, window: 1m, filter: "+tt.filter+"}\n", nil)
		if got := s.Features[0].Filter.Match(tt.fields); got != tt.match {
			t.Errorf("filter %s on %v = %v, want %v", tt.filter, tt.fields, got, tt.match)
		}
	}
}

func TestFirstSeenAndLast(t *testing.T) {
	specs := `version: 1
features:
  - {name: customer_device_first_seen_age, entity: [customer_id, device_id], aggregate: first_seen_age, window: 1h}
  - {name: customer_last_ip, entity: customer_id, aggregate: last, field: ip, window: 1h}
  - {name: customer_last_country, entity: customer_id, aggregate: last, field: ip_country, window: 1h, default: "??"}
`
	r := func(id string, d time.Duration, kv ...any) map[string]any {
		return pay(id, d, append([]any{"customer_id", "u1"}, kv...)...)
	}
	runSteps(t, specs, Options{Lateness: 10 * time.Minute}, []step{
		{r("a", 0, "device_id", "d1", "ip", "1.1.1.1"), map[string]any{
			"customer_device_first_seen_age": 0.0, "customer_last_ip": "1.1.1.1", "customer_last_country": "??"}, Outcome{Applied: 2}},
		// A record without ip keeps the last one.
		{r("b", 30*time.Minute, "device_id", "d1", "ip_country", "FR"), map[string]any{
			"customer_device_first_seen_age": 1800.0, "customer_last_ip": "1.1.1.1", "customer_last_country": "FR"}, Outcome{Applied: 2}},
		// A new device is a first sighting; the customer's last ip moves.
		{r("c", 40*time.Minute, "device_id", "d2", "ip", "2.2.2.2"), map[string]any{
			"customer_device_first_seen_age": 0.0, "customer_last_ip": "2.2.2.2", "customer_last_country": "FR"}, Outcome{Applied: 2}},
		// Out of order (within lateness): reads as of its own time.
		{r("d", 35*time.Minute, "ip", "3.3.3.3"), map[string]any{
			"customer_last_ip": "3.3.3.3", "customer_last_country": "FR"}, Outcome{Applied: 1}},
		{r("e", 41*time.Minute), map[string]any{"customer_last_ip": "2.2.2.2", "customer_last_country": "FR"}, Outcome{}},
		// d1 unseen for exactly the window: new again.
		{r("f", 90*time.Minute, "device_id", "d1"), map[string]any{
			"customer_device_first_seen_age": 0.0, "customer_last_ip": "2.2.2.2", "customer_last_country": "??"}, Outcome{Applied: 1}},
		{r("g", 100*time.Minute, "device_id", "d1"), map[string]any{
			"customer_device_first_seen_age": 600.0, "customer_last_country": "??"}, Outcome{Applied: 1}},
	})
}

// Labels are records: placed by event_ts, counted after the delay; a label
// without the entity contributes nothing, a repeated id is a duplicate, an
// event_ts beyond the lateness is late.
func TestLabels(t *testing.T) {
	specs := `version: 1
features:
  - {name: terminal_fraud_count_7d_d1d, entity: terminal_id, aggregate: count, window: 7d, delay: 1d, at: event_ts, lateness: 10d, filter: {type: label, fraud: true}}
  - {name: terminal_tx_count_7d_d1d, entity: terminal_id, aggregate: count, window: 7d, delay: 1d, filter: {type: payment}}
  - {name: terminal_risk_7d_d1d, aggregate: ratio, numerator: terminal_fraud_count_7d_d1d, denominator: terminal_tx_count_7d_d1d, default: 0}
`
	label := func(id string, ts, event time.Duration, kv ...any) map[string]any {
		m := map[string]any{"id": id, "ts": at(ts), "event_ts": at(event), "type": "label", "fraud": true}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	zero := map[string]any{"terminal_fraud_count_7d_d1d": 0.0, "terminal_tx_count_7d_d1d": 0.0, "terminal_risk_7d_d1d": 0.0}
	runSteps(t, specs, Options{}, []step{
		{pay("t1", 0, "terminal_id", "T"), zero, applied},
		{pay("t2", time.Hour, "terminal_id", "T"), zero, applied},
		// The label for t1 arrives two days later, placed at t1's time.
		{label("l1", 2*day, 0, "terminal_id", "T"), map[string]any{
			"terminal_fraud_count_7d_d1d": 1.0, "terminal_tx_count_7d_d1d": 2.0, "terminal_risk_7d_d1d": 0.5}, applied},
		{label("l1", 2*day, 0, "terminal_id", "T"), map[string]any{
			"terminal_fraud_count_7d_d1d": 1.0, "terminal_tx_count_7d_d1d": 2.0, "terminal_risk_7d_d1d": 0.5}, Outcome{Duplicate: true}},
		{label("l2", 2*day, time.Hour), map[string]any{}, Outcome{}}, // no terminal: nothing
		{pay("t3", 2*day+time.Hour, "terminal_id", "T"), map[string]any{
			"terminal_fraud_count_7d_d1d": 1.0, "terminal_tx_count_7d_d1d": 2.0, "terminal_risk_7d_d1d": 0.5}, applied},
		// A label about a transaction 11 days before the watermark: late.
		{label("l3", 12*day, day-time.Minute, "terminal_id", "T"), map[string]any{
			"terminal_fraud_count_7d_d1d": 0.0, "terminal_tx_count_7d_d1d": 0.0, "terminal_risk_7d_d1d": 0.0}, Outcome{Late: 1}},
	})
}

func TestReadAndOutOfRange(t *testing.T) {
	e := runSteps(t, `version: 1
features:
  - {name: card_count_1h, entity: card_id, aggregate: count, window: 1h}
`, Options{}, []step{
		{pay("a", 0, "card_id", "c"), map[string]any{"card_count_1h": 1.0}, applied},
	})
	n := newNormalizer(t)
	r := n.rec(pay("b", time.Minute, "card_id", "c"))
	for range 2 { // Read does not count the record, nor remember it
		if got := e.Read(r); got["card_count_1h"] != 1.0 {
			t.Fatalf("Read = %v", got)
		}
	}
	if got, out := e.Apply(r); got["card_count_1h"] != 2.0 || out.Duplicate {
		t.Fatalf("Apply after Read = %v %+v", got, out)
	}
	r.Time = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	if got, out := e.Apply(r); len(got) != 0 || out != (Outcome{}) {
		t.Fatalf("year 2300: %v %+v", got, out)
	}
	if wm := e.Watermark(); !wm.Equal(at(time.Minute)) {
		t.Fatalf("watermark %v", wm)
	}
}

// Records of different entities applied from many goroutines give the
// values a sequential run gives.
func TestConcurrentApply(t *testing.T) {
	specs := mustSpecs(t, referenceSpecs, shippedSchema(t))
	n := newNormalizer(t)
	const workers, per = 4, 300
	recs := make([][]map[string]any, workers)
	for w := range workers {
		for i := range per {
			recs[w] = append(recs[w], map[string]any{
				"id": fmt.Sprintf("w%d-%d", w, i), "ts": at(time.Duration(i) * time.Second), "type": "payment",
				"customer_id": fmt.Sprintf("c%d", w), "device_id": fmt.Sprintf("d%d", i%3), "ip": fmt.Sprintf("ip%d", i%70),
				"terminal_id": fmt.Sprintf("t%d", w), "amount": float64(i%50) + 0.25,
			})
		}
	}
	// Each worker's records in order; the lateness covers the interleaving.
	o := Options{Lateness: time.Hour}
	seq := mustEngine(t, specs, nil, o)
	want := make([][]map[string]any, workers)
	for w := range workers {
		for _, f := range recs[w] {
			got, _ := seq.Apply(n.rec(clone(f)))
			want[w] = append(want[w], got)
		}
	}
	par := mustEngine(t, specs, NewMemoryStore(MemoryOptions{Shards: 4}), o)
	done := make(chan error, workers)
	for w := range workers {
		records := make([]map[string]any, per)
		for i, f := range recs[w] {
			records[i] = clone(f)
		}
		go func() {
			for i, f := range records {
				got, _ := par.Apply(n.rec(f))
				if !maps.EqualFunc(got, want[w][i], func(a, b any) bool { return a == b }) {
					done <- fmt.Errorf("worker %d record %d: %v, want %v", w, i, got, want[w][i])
					return
				}
			}
			done <- nil
		}()
	}
	for range workers {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
