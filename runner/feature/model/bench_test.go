package model

import (
	"testing"
	"testing/fstest"
)

// BenchmarkScoreLR scores the 8-input logistic regression (every transform
// and time input) for one record: one allocation, the result map.
func BenchmarkScoreLR(b *testing.B) {
	set := mustLoad(b, fstest.MapFS{"fraud_lr.yaml": {Data: []byte(fraudLR)}}, LoadOptions{})
	fields := map[string]any{"id": "t-1", "type": "payment", "amount": 120.5, "currency": "EUR", "new_destination": true}
	features := map[string]any{"card_tx_count_1d": 3.0, "card_seen_before": 4.0}
	ts := mustTime(b, "2026-01-03T05:30:00Z")
	b.ReportAllocs()
	for b.Loop() {
		set.Score(fields, ts, features)
	}
}

// BenchmarkScoreLightGBM scores the 30-input, 10-tree LightGBM model.
func BenchmarkScoreLightGBM(b *testing.B) {
	bc := loadBreastCancer(b)
	set := mustLoad(b, bc.fs(bc.model, string(bc.yaml)), LoadOptions{})
	features := bc.rows[0]
	ts := mustTime(b, "2026-01-03T05:30:00Z")
	b.ReportAllocs()
	for b.Loop() {
		set.Score(nil, ts, features)
	}
}
