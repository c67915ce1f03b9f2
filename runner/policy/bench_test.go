package policy

import (
	"context"
	"testing"

	"github.com/vigil-risk/vigil/runner/decision"
)

// benchInput is a typical payment: about twenty record fields, a handful
// of features, one model score and the context.
func benchInput(hits bool) *Input {
	in := &Input{
		Record: map[string]any{
			"id": "t-000123", "ts": "2026-01-02T03:04:05Z", "type": "payment",
			"customer_id": "c-00042", "account_id": "a-00042", "card_id": "card-8841", "card_bin": "424242",
			"device_id": "dev-77", "merchant_id": "m-1203", "ip": "203.0.113.7",
			"amount": 42.5, "currency": "EUR", "mcc": "5411", "channel": "ecom",
			"card_country": "DE", "ip_country": "DE", "merchant_country": "DE",
			"account_created_at": "2024-05-06T07:08:09Z",
		},
		Features: map[string]any{
			"card_small_auth_count_1m": 1.0, "customer_txn_count_1h": 3.0,
			"customer_amount_avg_7d": 38.2, "device_seen_before": true,
		},
		Scores:  map[string]float64{"fraud_lr": 0.07},
		Context: map[string]any{"env": "prod", "source": "kafka:payments"},
	}
	if hits { // a card test from abroad: card_testing, country_mismatch, amount_spike
		in.Record["ip_country"] = "BR"
		in.Record["amount"] = 250.0
		in.Features["card_small_auth_count_1m"] = 7.0
	}
	return in
}

func BenchmarkDecide(b *testing.B) {
	ctx := context.Background()
	p, err := Load(ctx, "testdata/bench")
	if err != nil {
		b.Fatal(err)
	}
	if len(p.Rules) != 12 {
		b.Fatalf("bench bundle has %d rules, want 12", len(p.Rules))
	}
	for _, bc := range []struct {
		name   string
		in     *Input
		action decision.Action
		hits   int
	}{
		{"clean", benchInput(false), decision.Allow, 0},
		{"hits", benchInput(true), decision.Block, 3},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d, err := p.Decide(ctx, bc.in)
			if err != nil || d.Action != bc.action || len(d.Hits) != bc.hits {
				b.Fatalf("decision = %s with %d hits (%v), want %s with %d", d.Action, len(d.Hits), err, bc.action, bc.hits)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Decide(ctx, bc.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecideParallel(b *testing.B) {
	ctx := context.Background()
	p, err := Load(ctx, "testdata/bench")
	if err != nil {
		b.Fatal(err)
	}
	in := benchInput(false)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Decide(ctx, in); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
