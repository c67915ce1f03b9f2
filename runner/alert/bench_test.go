package alert_test

import (
	"fmt"
	"testing"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/record"
)

// BenchmarkObserve is the alerting cost of one record with one enforced hit
// whose fingerprint repeats (100 cards): one transaction that updates the
// alert, stores the record and trims old ones, and appends an event.
func BenchmarkObserve(b *testing.B) {
	svc, _, _ := setup(b, alert.Options{})
	const cards = 100
	recs := make([]record.Record, cards)
	decs := make([]decision.Decision, cards)
	for i := range cards {
		c := fmt.Sprintf("card-%03d", i)
		recs[i] = rec("t-"+c, t0, c)
		decs[i] = decide(recs[i], []decision.Hit{hit("card_testing", decision.High, "6 small auths in 1m", card(c))})
	}
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := svc.Observe(ctx, recs[i%cards], decs[i%cards]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkObserveBatch is BenchmarkObserve's records in batches of 16, one
// transaction each; ns/decision compares with BenchmarkObserve's ns/op.
func BenchmarkObserveBatch(b *testing.B) {
	svc, _, _ := setup(b, alert.Options{})
	const cards, size = 100, 16
	obs := make([]alert.Observed, cards)
	for i := range cards {
		c := fmt.Sprintf("card-%03d", i)
		r := rec("t-"+c, t0, c)
		obs[i] = alert.Observed{Record: r, Decision: decide(r, []decision.Hit{hit("card_testing", decision.High, "6 small auths in 1m", card(c))})}
	}
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		batch := obs[i : i+size]
		if err := svc.ObserveBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
		i = (i + size) % (cards - size)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/decision")
}

// BenchmarkObserveNothingToAlert is the cost on the common path: a decision
// whose only hit is below the minimum severity.
func BenchmarkObserveNothingToAlert(b *testing.B) {
	svc, _, _ := setup(b, alert.Options{MinSeverity: decision.High})
	r := rec("t-1", t0, "c1")
	d := decide(r, []decision.Hit{hit("r", decision.Low, "x", card("c1"))})
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Observe(ctx, r, d); err != nil {
			b.Fatal(err)
		}
	}
}
