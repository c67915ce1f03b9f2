package policy

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/decision"
)

func payment(extra map[string]any) map[string]any {
	rec := map[string]any{
		"id": "t-1", "ts": "2026-01-02T03:04:05Z", "type": "payment",
		"customer_id": "c-9", "card_id": "card-7", "device_id": "dev-3",
		"amount": 12.5, "currency": "USD", "card_country": "DE",
	}
	for k, v := range extra {
		rec[k] = v
	}
	return rec
}

func TestDecide(t *testing.T) {
	ctx := context.Background()
	p, err := Load(ctx, copyBundle(t, "testdata/basic"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		in         Input
		action     decision.Action
		score      int
		hits       []string
		shadowHits []string
	}{
		{"nothing fires", Input{Record: payment(nil)}, decision.Allow, 0, nil, nil},
		{"medium review", Input{Record: payment(map[string]any{"amount": 6000.0})}, decision.Review, 30, []string{"big_amount"}, nil},
		{"limit from helper library", Input{Record: payment(map[string]any{"amount": 3500.0, "currency": "JPY"})}, decision.Review, 30, []string{"big_amount"}, nil},
		{"bundle data: blocked country", Input{Record: payment(map[string]any{"card_country": "KP"})}, decision.Block, 100, []string{"blocked_country"}, nil},
		{"block beats review", Input{Record: payment(map[string]any{"amount": 6000.0}), Features: map[string]any{"card_small_auth_count_1m": 6}},
			decision.Block, 100, []string{"big_amount", "card_testing"}, nil},
		{"score is capped at 100", Input{Record: payment(nil), Features: map[string]any{"card_small_auth_count_1m": 9}, Scores: map[string]float64{"fraud_lr": 0.95}},
			decision.Block, 100, []string{"card_testing", "fraud_score"}, nil},
		{"high review", Input{Record: payment(nil), Scores: map[string]float64{"fraud_lr": 0.91}}, decision.Review, 70, []string{"fraud_score"}, nil},
		{"shadow hit is kept apart", Input{Record: payment(nil), Features: map[string]any{"device_seen_before": false}, Context: map[string]any{"env": "test"}},
			decision.Allow, 0, nil, []string{"new_device"}},
		{"shadow and enforced together", Input{Record: payment(map[string]any{"amount": 6000.0}), Features: map[string]any{"device_seen_before": false}, Context: map[string]any{"env": "test"}},
			decision.Review, 30, []string{"big_amount"}, []string{"new_device"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := p.Decide(ctx, &tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if d.Action != tt.action || d.Score != tt.score {
				t.Errorf("action, score = %s, %d; want %s, %d", d.Action, d.Score, tt.action, tt.score)
			}
			if got := ruleNames(d.Hits); !slices.Equal(got, tt.hits) {
				t.Errorf("hits = %v, want %v", got, tt.hits)
			}
			if got := ruleNames(d.ShadowHits); !slices.Equal(got, tt.shadowHits) {
				t.Errorf("shadow hits = %v, want %v", got, tt.shadowHits)
			}
			if d.RecordID != "t-1" || d.RecordType != "payment" || !d.Time.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
				t.Errorf("record id, type, time = %q, %q, %v", d.RecordID, d.RecordType, d.Time)
			}
			if d.PolicyRevision == "" || d.PolicyRevision != p.Revision {
				t.Errorf("policy revision = %q, want %q", d.PolicyRevision, p.Revision)
			}
		})
	}
}

func ruleNames(hits []decision.Hit) []string {
	var names []string
	for _, h := range hits {
		names = append(names, h.Rule)
	}
	return names
}

func TestDecideHitFields(t *testing.T) {
	ctx := context.Background()
	p, err := Load(ctx, copyBundle(t, "testdata/basic"), WithRunnerVersion("v1.2.3"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.Decide(ctx, &Input{
		Record:   payment(map[string]any{"amount": 6000.0}),
		Features: map[string]any{"card_small_auth_count_1m": 7, "device_seen_before": false},
		Context:  map[string]any{"env": "prod"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.RunnerVersion != "v1.2.3" {
		t.Errorf("runner version = %q", d.RunnerVersion)
	}
	want := []decision.Hit{
		{Rule: "big_amount", Title: "Large amount", Severity: decision.Medium, Action: decision.Review,
			Reason: "amount 6000 USD is above the limit 5000", Entity: &decision.Entity{Field: "customer_id", Value: "c-9"},
			Details: map[string]any{"amount": 6000.0, "limit": 5000.0}},
		{Rule: "card_testing", Title: "Card testing burst", Severity: decision.High, Action: decision.Block,
			Reason: "7 small authorisations in 1m", Entity: &decision.Entity{Field: "card_id", Value: "card-7"},
			Details: map[string]any{"count": 7.0, "window": "1m"}},
	}
	if !hitsEqual(d.Hits, want) {
		t.Errorf("hits:\n got %+v\nwant %+v", d.Hits, want)
	}
	wantShadow := []decision.Hit{{Rule: "new_device", Title: "Payment from a new device", Severity: decision.Low, Action: decision.Review,
		Reason: "first payment from this device", Entity: &decision.Entity{Field: "device_id", Value: "dev-3"},
		Details: map[string]any{"env": "prod"}}}
	if !hitsEqual(d.ShadowHits, wantShadow) {
		t.Errorf("shadow hits:\n got %+v\nwant %+v", d.ShadowHits, wantShadow)
	}
}

func hitsEqual(a, b []decision.Hit) bool {
	return slices.EqualFunc(a, b, func(x, y decision.Hit) bool {
		return x.Rule == y.Rule && x.Title == y.Title && x.Severity == y.Severity && x.Action == y.Action &&
			x.Reason == y.Reason && (x.Entity == nil) == (y.Entity == nil) && (x.Entity == nil || *x.Entity == *y.Entity) &&
			mapsEqual(x.Details, y.Details)
	})
}

func mapsEqual(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestDecideEntityAbsent(t *testing.T) {
	ctx := context.Background()
	p, err := Load(ctx, copyBundle(t, "testdata/basic"))
	if err != nil {
		t.Fatal(err)
	}
	rec := payment(map[string]any{"amount": 6000.0})
	delete(rec, "customer_id")
	d, err := p.Decide(ctx, &Input{Record: rec})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Hits) != 1 || d.Hits[0].Entity != nil {
		t.Fatalf("want one hit without entity, got %+v", d.Hits)
	}
}

func TestDecideRecordFields(t *testing.T) {
	ctx := context.Background()
	dir := writeBundle(t, map[string]string{"risk/rules/any.rego": ruleSource("any", "", "")})
	p, err := Load(ctx, dir, WithRecordFields("transaction_id", "kind", "event_time"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.Decide(ctx, &Input{Record: map[string]any{
		"transaction_id": "tx-5", "kind": "login", "event_time": "2026-03-04T05:06:07.5Z", "type": "payment", "card_id": 4111.0,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if d.RecordID != "tx-5" || d.RecordType != "login" || !d.Time.Equal(time.Date(2026, 3, 4, 5, 6, 7, 5e8, time.UTC)) {
		t.Errorf("record id, type, time = %q, %q, %v", d.RecordID, d.RecordType, d.Time)
	}
	if len(d.Hits) != 1 || d.Hits[0].Entity == nil || d.Hits[0].Entity.Value != "4111" {
		t.Errorf("want one hit on card_id=4111, got %+v", d.Hits)
	}
}

func TestDecideErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"conflicting hit values",
			"hit := {\"reason\": \"a\"} if input.record.type == \"payment\"\n\nhit := {\"reason\": \"b\"} if input.record.amount > 1\n",
			[]string{"rule conflict:", "conflict.rego:", "eval_conflict_error"}},
		{"hit without reason",
			"hit := h if {\n\th := {\"why\": input.record.type}\n}\n",
			[]string{"rule conflict", "conflict.rego:1", "string \"reason\""}},
		{"hit not an object",
			"hit := h if {\n\th := input.record.amount\n}\n",
			[]string{"rule conflict", "hit must be an object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeBundle(t, map[string]string{"risk/rules/conflict.rego": ruleSource("conflict", "", tt.body)})
			p, err := Load(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Decide(ctx, &Input{Record: map[string]any{"id": "x", "type": "payment", "amount": 5.0}})
			if err == nil {
				t.Fatal("want an error")
			}
			t.Logf("%q", err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestDesignExample loads the rule exactly as DESIGN §3.1 shows it and
// makes the decision §3.3 shows.
func TestDesignExample(t *testing.T) {
	ctx := context.Background()
	dir := writeBundle(t, map[string]string{
		"features.yaml": "version: 1\nfeatures:\n  - {name: card_small_auth_count_1m, entity: card_id, aggregate: count, window: 1m, filter: {type: payment, amount: {lt: 10}}}\n",
		"risk/rules/card_testing.rego": `# METADATA
# title: Card testing burst
# description: Many small authorisations on one card within a minute.
# custom:
#   severity: high          # low | medium | high | critical
#   action: block           # allow | review | block — what a hit asks for
#   mode: enforce           # enforce | shadow (shadow hits are logged and backtested, never act or alert)
#   entity: card_id         # the record field an alert is about (fingerprint = rule + entity)
#   owner: payments-risk
#   tags: [card, velocity]
#   runbook: https://wiki.example.com/risk/card-testing
package risk.rules.card_testing

import rego.v1

hit := {"reason": sprintf("%d small authorisations in 1m", [n])} if {
	input.record.type == "payment"
	n := input.features.card_small_auth_count_1m
	n >= 5
}
`})
	p, err := Load(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.Decide(ctx, &Input{
		Record:   map[string]any{"id": "t-1", "ts": "2026-01-02T03:04:05Z", "type": "payment", "amount": 12.5, "card_id": "c-1"},
		Features: map[string]any{"card_small_auth_count_1m": 6, "customer_amount_avg_7d": 40.1},
		Scores:   map[string]float64{"fraud_lr": 0.93},
		Context:  map[string]any{"env": "prod", "source": "kafka:payments"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.RecordID != "t-1" || d.Action != decision.Block || d.Score != 70 || len(d.Hits) != 1 ||
		d.Hits[0].Reason != "6 small authorisations in 1m" || d.Hits[0].Details != nil || len(d.ShadowHits) != 0 {
		t.Errorf("decision = %+v", d)
	}
}
