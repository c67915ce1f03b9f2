package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/record"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// TestChainUnderConcurrentWriters: two "processes" (two database handles on
// one file, as `vigil run` and the CLI are) raise and handle alerts at once.
// Every append reads the head and writes the next event in one writer
// transaction (BEGIN IMMEDIATE), so the chain stays whole.
func TestChainUnderConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.db")
	var svcs []*alert.Service
	for range 2 {
		db, err := sqldb.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		store, err := alertsqlite.New(t.Context(), db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		svc, err := alert.NewService(store, alert.Options{})
		if err != nil {
			t.Fatal(err)
		}
		svcs = append(svcs, svc)
	}
	const perWorker = 25
	var wg sync.WaitGroup
	errs := make(chan error, 8*perWorker)
	for w := range 4 {
		svc := svcs[w%2]
		wg.Go(func() {
			ctx := context.Background()
			for i := range perWorker {
				c := fmt.Sprintf("w%d-c%d", w, i%5) // repeats on five cards
				r := record.Record{ID: fmt.Sprintf("w%d-%d", w, i), Type: "payment", Time: now, Fields: map[string]any{"card_id": c}}
				h := decision.Hit{Rule: "r", Severity: decision.High, Action: decision.Block, Reason: "x", Entity: &decision.Entity{Field: "card_id", Value: c}}
				as, err := svc.Observe(ctx, r, decision.Decision{RecordID: r.ID, Time: now, Action: decision.Block, Hits: []decision.Hit{h}})
				if err != nil {
					errs <- err
					return
				}
				if i%3 == 0 {
					// handled by the other process, racing with the raises
					_, err := svcs[(w+1)%2].Apply(ctx, as[0].ID, alert.Action{Kind: alert.ActComment, Actor: "ana", Comment: r.ID})
					if err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	db, err := sqldb.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rep, err := alertsqlite.VerifyChain(t.Context(), db)
	want := 4*perWorker + 4*((perWorker+2)/3) // one raised or repeated per record, one comment every third
	if err != nil || rep.Events != want {
		t.Fatalf("VerifyChain = %+v, %v; want %d events, whole", rep, err, want)
	}
}
