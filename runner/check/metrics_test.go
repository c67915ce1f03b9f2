package check

import (
	"math"
	"testing"
	"time"
)

func TestAveragePrecision(t *testing.T) {
	tests := []struct {
		name   string
		scores []float64
		labels []bool
		want   float64
		ok     bool
	}{
		// values from sklearn.metrics.average_precision_score
		{"sklearn doc example", []float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.8333333333333333, true},
		{"perfect", []float64{0.9, 0.8, 0.1}, []bool{true, true, false}, 1, true},
		{"worst", []float64{0.9, 0.8, 0.1}, []bool{false, false, true}, 1.0 / 3, true},
		{"all tied", []float64{0.5, 0.5, 0.5, 0.5}, []bool{true, false, false, false}, 0.25, true},
		{"ties inside", []float64{0.9, 0.5, 0.5, 0.1}, []bool{false, true, false, true}, 0.5*(1.0/3) + 0.5*0.5, true},
		{"no positives", []float64{0.9, 0.1}, []bool{false, false}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := AveragePrecision(tt.scores, tt.labels)
			if ok != tt.ok || math.Abs(got-tt.want) > 1e-12 {
				t.Fatalf("AveragePrecision = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCardPrecisionAtK(t *testing.T) {
	d1 := time.Date(2018, 8, 8, 0, 0, 0, 0, time.UTC)
	d2 := d1.AddDate(0, 0, 1)
	recs := []Scored{
		// day 1: card a has a fraud (its max score 0.9), b clean 0.8, c fraud 0.1
		{"a", d1, 0.2, true}, {"a", d1, 0.9, false}, {"b", d1, 0.8, false}, {"c", d1, 0.1, true},
		// day 2: d fraud 0.7, e clean 0.6
		{"d", d2, 0.7, true}, {"e", d2, 0.6, false},
	}
	got, days := CardPrecisionAtK(recs, 2)
	// day 1 top 2: a (fraud), b → 1/2; day 2 top 2: d (fraud), e → 1/2
	if days != 2 || math.Abs(got-0.5) > 1e-12 {
		t.Fatalf("CP@2 = %v over %d days, want 0.5 over 2", got, days)
	}
	got, _ = CardPrecisionAtK(recs, 1)
	// day 1: a → 1; day 2: d → 1
	if got != 1 {
		t.Fatalf("CP@1 = %v, want 1", got)
	}
	// a card found compromised on day 1 is left out of day 2
	recs = append(recs, Scored{"a", d2, 0.99, true})
	got, _ = CardPrecisionAtK(recs, 1)
	if got != 1 {
		t.Fatalf("CP@1 with a detected card reappearing = %v, want 1 (a is skipped on day 2, d leads)", got)
	}
	recs = append(recs, Scored{"b", d2, 0.98, false})
	got, _ = CardPrecisionAtK(recs, 1)
	if got != 0.5 {
		t.Fatalf("CP@1 = %v, want 0.5 (b, not detected on day 1, leads day 2)", got)
	}
}

func TestROCAUC(t *testing.T) {
	tests := []struct {
		name   string
		scores []float64
		labels []bool
		want   float64
		ok     bool
	}{
		// sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
		{"sklearn doc example", []float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.75, true},
		{"perfect", []float64{0.9, 0.8, 0.1}, []bool{true, true, false}, 1, true},
		{"all tied", []float64{0.5, 0.5, 0.5}, []bool{true, false, false}, 0.5, true},
		{"one class", []float64{0.5, 0.1}, []bool{false, false}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ROCAUC(tt.scores, tt.labels)
			if ok != tt.ok || math.Abs(got-tt.want) > 1e-12 {
				t.Fatalf("ROCAUC = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
