package pipeline_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/feature"
	"github.com/vigil-risk/vigil/runner/ingest"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/record"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// batchSink is the alert service, counting the batches Run hands it; fail,
// if set, refuses a batch before it reaches the store.
type batchSink struct {
	*alert.Service
	mu    sync.Mutex
	sizes []int
	fail  func([]alert.Observed) error
}

func (s *batchSink) ObserveBatch(ctx context.Context, b []alert.Observed) error {
	s.mu.Lock()
	s.sizes = append(s.sizes, len(b))
	s.mu.Unlock()
	if s.fail != nil {
		if err := s.fail(b); err != nil {
			return err
		}
	}
	return s.Service.ObserveBatch(ctx, b)
}

var _ pipeline.BatchAlertSink = (*batchSink)(nil)

// storeAt is an alert service over a fresh SQLite file with a fixed wall
// clock, so that two runs can be compared event by event, hashes included.
func storeAt(t *testing.T, path string) (*alert.Service, *sql.DB) {
	t.Helper()
	db, err := sqldb.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store, err := alertsqlite.New(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	svc, err := alert.NewService(store, alert.Options{MinSeverity: decision.Medium, KeepRecords: 5, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return svc, db
}

// storeDump is what a store holds, eval_us (a timing) left out of the kept
// decisions; the audit chain is verified on the way.
type storeDump struct {
	Alerts  []alert.Alert
	Records [][]alert.AlertRecord
	Events  []alert.Event
}

func dumpAlerts(t *testing.T, svc *alert.Service, db *sql.DB) storeDump {
	t.Helper()
	ctx := t.Context()
	as, err := svc.List(ctx, alert.Filter{Limit: alert.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	d := storeDump{Alerts: as}
	for _, a := range as {
		rs, err := svc.Records(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		for i := range rs {
			var m map[string]any
			if err := json.Unmarshal(rs[i].Decision, &m); err != nil {
				t.Fatal(err)
			}
			delete(m, "eval_us")
			rs[i].Decision, _ = json.Marshal(m)
		}
		d.Records = append(d.Records, rs)
	}
	if err := alertsqlite.EachEvent(ctx, db, 0, func(e *alert.Event) error {
		d.Events = append(d.Events, *e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := alertsqlite.VerifyChain(ctx, db); err != nil {
		t.Fatalf("audit chain: %v", err)
	}
	return d
}

func demoJSONL(t *testing.T, n int, fraud float64) string {
	t.Helper()
	gen := ingest.NewGenerator(7, fraud)
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for i := range n {
		if err := enc.Encode(gen.Next(start.Add(time.Duration(i) * 200 * time.Millisecond))); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// runOnce replays in through a fresh pipeline (features included) into the
// sink and returns what was handed on, in order: the decided record IDs and
// the alerts each decision touched.
func runOnce(t *testing.T, in string, workers int, sink pipeline.AlertSink, onDecision func(n int)) ([]string, [][]alert.Alert) {
	t.Helper()
	e := newEngine(t, shippedBundle)
	fe, err := feature.NewEngine(e.Current().Features, nil, feature.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var touched [][]alert.Alert
	p, err := pipeline.New(e, pipeline.Options{Env: "test", RunnerVersion: "test", Features: fe, Workers: workers,
		Alerts: sink, OnAlerts: func(as []alert.Alert) { touched = append(touched, as) }})
	if err != nil {
		t.Fatal(err)
	}
	var decided []string
	err = p.Run(t.Context(), &ingest.Reader{SourceName: "demo", R: strings.NewReader(in), Normalizer: p.Normalizer},
		func(rec record.Record, _ *decision.Decision) {
			decided = append(decided, rec.ID)
			if onDecision != nil {
				onDecision(len(decided))
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	return decided, touched
}

func sameAsJSON(t *testing.T, what string, batched, one any) {
	t.Helper()
	b, _ := json.Marshal(batched)
	o, _ := json.Marshal(one)
	if !bytes.Equal(b, o) {
		t.Errorf("%s differ between the batched run and the one-by-one run:\n batched    %.600s\n one by one %.600s", what, b, o)
	}
}

// Run with batched alert transactions stores and hands on exactly what it
// does one decision at a time: the same alerts, records and events (the
// same audit chain), the same decisions and OnAlerts in the same order.
func TestRunBatchedAlertsMatchOneByOne(t *testing.T) {
	in := demoJSONL(t, 3000, 0.15)
	dir := t.TempDir()

	oneSvc, oneDB := storeAt(t, filepath.Join(dir, "one.db"))
	oneDecided, oneTouched := runOnce(t, in, 1, oneSvc, nil) // one record at a time: Observe

	svc, db := storeAt(t, filepath.Join(dir, "batched.db"))
	sink := &batchSink{Service: svc}
	// Stall the collector now and then, so that evaluated records pile up
	// behind it and are finished in batches.
	decided, touched := runOnce(t, in, 2, sink, func(n int) {
		if n%250 == 1 {
			time.Sleep(20 * time.Millisecond)
		}
	})

	if len(oneTouched) < 100 {
		t.Fatalf("%d decisions touched alerts: too few to compare", len(oneTouched))
	}
	if slices.Max(sink.sizes) < 10 {
		t.Fatalf("batches of %v: the collector never batched much", sink.sizes)
	}
	t.Logf("%d decisions touched alerts; %d batches, up to %d decisions", len(oneTouched), len(sink.sizes), slices.Max(sink.sizes))
	if !slices.Equal(decided, oneDecided) {
		t.Errorf("decided %d records, one by one %d, or in another order", len(decided), len(oneDecided))
	}
	sameAsJSON(t, "OnAlerts", touched, oneTouched)
	g, w := dumpAlerts(t, svc, db), dumpAlerts(t, oneSvc, oneDB)
	sameAsJSON(t, "stored alerts", g.Alerts, w.Alerts)
	sameAsJSON(t, "stored records", g.Records, w.Records)
	sameAsJSON(t, "events", g.Events, w.Events)
}

// When a batch's transaction fails, no record of the batch is acknowledged
// and the error names its first record; the records before it were. Where
// the collector's windows begin depends on the scheduler, so the failing
// batch is the one that holds b-42, whatever it starts with.
func TestRunBatchFailureAcksNothingOfTheBatch(t *testing.T) {
	var recs []map[string]any
	recs = append(recs, blockedCard("b-01"))
	for i := 2; i < 40; i++ {
		recs = append(recs, payment(fmt.Sprintf("p-%02d", i), nil))
	}
	recs = append(recs, blockedCard("b-40"), payment("p-41", nil), blockedCard("b-42"), largePayment("l-43"))
	for i := 44; i < 60; i++ {
		recs = append(recs, payment(fmt.Sprintf("p-%02d", i), nil))
	}
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r["id"].(string)
	}
	broken := errors.New("store down")
	for attempt := 1; ; attempt++ {
		svc, _ := storeAt(t, filepath.Join(t.TempDir(), "vigil.db"))
		var failed []string // the record IDs of the batch that failed
		sink := &failingSink{batchSink: batchSink{Service: svc, fail: func(b []alert.Observed) error {
			for _, o := range b {
				if o.Record.ID == "b-42" {
					for _, o := range b {
						failed = append(failed, o.Record.ID)
					}
					return broken
				}
			}
			return nil
		}}}
		var stall sync.Once
		p, _ := newPipeline(t, shippedBundle, pipeline.Options{Workers: 2, Alerts: sink, OnAlerts: func([]alert.Alert) {
			// Hold the collector once, so that what follows is evaluated
			// by the time it looks again: a batch.
			stall.Do(func() { time.Sleep(100 * time.Millisecond) })
		}})
		var decided []string
		err := p.Run(t.Context(), &ingest.Reader{SourceName: "stdin", R: strings.NewReader(jsonl(t, recs...)), Normalizer: p.Normalizer},
			func(rec record.Record, _ *decision.Decision) { decided = append(decided, rec.ID) })
		if len(failed) == 0 {
			t.Fatalf("Run = %v; b-42's alerts never failed", err)
		}
		first := failed[0]
		if !errors.Is(err, broken) || !strings.Contains(err.Error(), "record "+first+": alerts") {
			t.Fatalf("Run = %v, want the failure of the batch from %s", err, first)
		}
		if want := ids[:slices.Index(ids, first)]; !slices.Equal(decided, want) {
			t.Errorf("decided %v\nwant %v: up to the failed batch %v, none of it", decided, want, failed)
		}
		as, err := svc.List(t.Context(), alert.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			if slices.Index(ids, a.LastRecordID) >= slices.Index(ids, first) {
				t.Errorf("alert %+v stored from the failed batch %v", a, failed)
			}
		}
		if len(failed) > 1 {
			t.Logf("attempt %d: batch %v failed", attempt, failed)
			return
		}
		if attempt == 20 {
			t.Fatalf("b-42 never failed in a batch of more than one record")
		}
	}
}

// failingSink fails b-42 one by one too (a window with one alerting record
// uses Observe).
type failingSink struct{ batchSink }

func (s *failingSink) Observe(ctx context.Context, rec record.Record, d decision.Decision) ([]alert.Alert, error) {
	if rec.ID == "b-42" {
		return nil, s.fail([]alert.Observed{{Record: rec, Decision: d}})
	}
	return s.Service.Observe(ctx, rec, d)
}
