package model

import (
	"fmt"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

// bothKinds is a set with the logistic regression and the LightGBM model.
func bothKinds(t testing.TB) (*Set, breastCancer) {
	t.Helper()
	bc := loadBreastCancer(t)
	fsys := bc.fs(bc.model, string(bc.yaml))
	fsys["fraud_lr.yaml"] = &fstest.MapFile{Data: []byte(fraudLR)}
	return mustLoad(t, fsys, LoadOptions{}), bc
}

// TestScoreConcurrent scores from 8 goroutines at once (run it with -race):
// every result must equal the one computed alone, so the pooled LightGBM
// buffers are never shared between two records in flight.
func TestScoreConcurrent(t *testing.T) {
	set, bc := bothKinds(t)
	start := mustTime(t, "2026-01-03T00:00:00Z")
	type job struct {
		fields   map[string]any
		ts       time.Time
		features map[string]any
		want     map[string]float64
	}
	jobs := make([]job, len(bc.rows))
	for i, row := range bc.rows {
		features := map[string]any{"card_tx_count_1d": float64(i), "card_seen_before": i % 2}
		for k, v := range row {
			features[k] = v
		}
		j := job{
			fields:   map[string]any{"amount": float64(i * 37), "new_destination": i%3 == 0},
			ts:       start.Add(time.Duration(i) * 97 * time.Minute),
			features: features,
		}
		j.want = set.Score(j.fields, j.ts, j.features)
		if len(j.want) != 2 || !near(j.want["breast_cancer_gbt"], bc.want[i], 1e-9) {
			t.Fatalf("row %d: sequential scores %v, LightGBM %v", i, j.want, bc.want[i])
		}
		jobs[i] = j
	}

	const workers, rounds = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				for k := range jobs {
					j := &jobs[(k+w*7+r)%len(jobs)] // workers interleave different rows
					got := set.Score(j.fields, j.ts, j.features)
					for name, want := range j.want {
						if got[name] != want {
							errs <- fmt.Errorf("worker %d: %s = %v, alone %v", w, name, got[name], want)
							return
						}
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
