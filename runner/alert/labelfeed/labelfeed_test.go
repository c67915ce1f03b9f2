package labelfeed_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/alert/labelfeed"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/record"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

var t0 = time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)

// collector is an Apply that keeps what it is given.
type collector struct {
	mu     sync.Mutex
	labels []record.Record
}

func (c *collector) apply(_ context.Context, r record.Record) {
	c.mu.Lock()
	c.labels = append(c.labels, r)
	c.mu.Unlock()
}

func (c *collector) take() []record.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.labels
	c.labels = nil
	return out
}

// service opens the SQLite file at path as a process of its own would.
func service(t *testing.T, path string, now func() time.Time) (*alert.Service, *alertsqlite.Store, func() error) {
	t.Helper()
	db, err := sqldb.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	store, err := alertsqlite.New(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := alert.NewService(store, alert.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return svc, store, db.Close
}

func raise(t *testing.T, svc *alert.Service, id string, at time.Time, card string) alert.Alert {
	t.Helper()
	r := record.Record{ID: id, Type: "payment", Time: at, Fields: map[string]any{
		"id": id, "ts": record.FormatTime(at), "type": "payment", "card_id": card, "amount": 12.5,
	}}
	h := decision.Hit{Rule: "r", Title: "R", Severity: decision.High, Action: decision.Block, Reason: "x",
		Entity: &decision.Entity{Field: "card_id", Value: card}}
	as, err := svc.Observe(t.Context(), r, decision.Decision{RecordID: id, RecordType: r.Type, Time: at,
		Action: decision.Block, Hits: []decision.Hit{h}})
	if err != nil || len(as) != 1 {
		t.Fatalf("Observe(%s) = %v, %v", id, as, err)
	}
	return as[0]
}

// Analysts' true and false positives become label records; benign and
// duplicate resolutions label nothing; a reopen and a second resolution
// give the same id (a duplicate for the features); a batch repeats nothing.
func TestFeedsResolutions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	svc, _, closeDB := service(t, path, func() time.Time { return now })
	defer closeDB()
	ctx := t.Context()

	db, err := sqldb.Open(ctx, path) // the runner's own handle
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got collector
	f, err := labelfeed.New(ctx, db, labelfeed.Options{Apply: got.apply})
	if err != nil {
		t.Fatal(err)
	}

	tp := raise(t, svc, "t-1", t0, "c1")
	raise(t, svc, "t-2", t0.Add(time.Minute), "c1") // folded into tp: its latest record
	fp := raise(t, svc, "t-3", t0, "c2")
	benign := raise(t, svc, "t-4", t0, "c3")
	dup := raise(t, svc, "t-5", t0, "c4")
	for id, r := range map[int64]alert.Resolution{tp.ID: alert.TruePositive, fp.ID: alert.FalsePositive,
		benign.ID: alert.Benign, dup.ID: alert.Duplicate} {
		if _, err := svc.Resolve(ctx, id, "ana", r, ""); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := f.Tick(ctx); err != nil || n != 2 {
		t.Fatalf("Tick = %d, %v; want 2 labels (true and false positive)", n, err)
	}
	byID := map[string]record.Record{}
	for _, l := range got.take() {
		byID[l.ID] = l
	}
	for _, tc := range []struct {
		id     string
		fraud  bool
		card   string
		event  time.Time
		absent bool
	}{
		{id: "label:alert:1", fraud: true, card: "c1", event: t0.Add(time.Minute)},
		{id: "label:alert:2", fraud: false, card: "c2", event: t0},
		{id: "label:alert:3", absent: true},
		{id: "label:alert:4", absent: true},
	} {
		l, ok := byID[tc.id]
		if ok == tc.absent {
			t.Errorf("%s: present %v, want %v", tc.id, ok, !tc.absent)
			continue
		}
		if tc.absent {
			continue
		}
		if l.Type != alert.LabelType || !l.Time.Equal(now) || l.Fields["fraud"] != tc.fraud || l.Fields["card_id"] != tc.card ||
			l.Fields["event_ts"] != record.FormatTime(tc.event) || l.Fields["ts"] != record.FormatTime(now) ||
			l.Fields["amount"] != 12.5 || l.Fields["type"] != alert.LabelType {
			t.Errorf("%s = %+v", tc.id, l)
		}
	}
	if n, err := f.Tick(ctx); err != nil || n != 0 {
		t.Errorf("second Tick = %d, %v; want nothing repeated", n, err)
	}

	// Reopened and resolved again: a label record with the same id, which
	// the features ignore as a duplicate; the first label stays.
	if _, err := svc.Apply(ctx, tp.ID, alert.Action{Kind: alert.ActReopen, Actor: "bob"}); err != nil {
		t.Fatal(err)
	}
	if n, err := f.Tick(ctx); err != nil || n != 0 {
		t.Errorf("Tick after a reopen = %d, %v; want 0 (a reopen withdraws nothing)", n, err)
	}
	if _, err := svc.Resolve(ctx, tp.ID, "bob", alert.FalsePositive, ""); err != nil {
		t.Fatal(err)
	}
	if n, err := f.Tick(ctx); err != nil || n != 1 {
		t.Fatalf("Tick after a second resolution = %d, %v; want 1", n, err)
	}
	if ls := got.take(); len(ls) != 1 || ls[0].ID != "label:alert:1" {
		t.Errorf("second resolution's labels = %+v, want the id label:alert:1 again", ls)
	}
}

// A feeder started for the first time does not label the history; once its
// cursor exists, a resolution made while it is not running is fed by the
// next feeder on the same file, and only once.
func TestCursorAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	ctx := t.Context()
	svc, _, closeDB := service(t, path, time.Now)
	defer closeDB()
	old := raise(t, svc, "t-0", t0, "c0")
	if _, err := svc.Resolve(ctx, old.ID, "ana", alert.TruePositive, ""); err != nil {
		t.Fatal(err)
	}

	start := func() (*labelfeed.Feeder, *collector, func() error) {
		db, err := sqldb.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		var c collector
		f, err := labelfeed.New(ctx, db, labelfeed.Options{Apply: c.apply})
		if err != nil {
			t.Fatal(err)
		}
		return f, &c, db.Close
	}
	f, got, stop := start()
	if n, err := f.Tick(ctx); err != nil || n != 0 {
		t.Errorf("first Tick = %d, %v; want 0 (history before the first start)", n, err)
	}
	a := raise(t, svc, "t-1", t0, "c1")
	if _, err := svc.Resolve(ctx, a.ID, "ana", alert.TruePositive, ""); err != nil {
		t.Fatal(err)
	}
	if n, err := f.Tick(ctx); err != nil || n != 1 {
		t.Fatalf("Tick = %d, %v; want 1", n, err)
	}
	got.take()
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	b := raise(t, svc, "t-2", t0, "c2") // while the feeder is down
	if _, err := svc.Resolve(ctx, b.ID, "ana", alert.FalsePositive, ""); err != nil {
		t.Fatal(err)
	}
	f, got, stop = start()
	defer stop()
	if n, err := f.Tick(ctx); err != nil || n != 1 {
		t.Fatalf("Tick after the restart = %d, %v; want 1", n, err)
	}
	if ls := got.take(); len(ls) != 1 || ls[0].ID != "label:alert:3" || ls[0].Fields["fraud"] != false {
		t.Errorf("labels after the restart = %+v, want only label:alert:3 (false positive)", ls)
	}
}

// Run applies a resolution at once when kicked, not at its next interval.
func TestKickWakesRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	ctx, cancel := context.WithCancel(t.Context())
	var got collector
	labelled := make(chan struct{}, 1)
	db, err := sqldb.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f, err := labelfeed.New(ctx, db, labelfeed.Options{Interval: time.Hour, Apply: func(ctx context.Context, r record.Record) {
		got.apply(ctx, r)
		labelled <- struct{}{}
	}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	svc, _, closeDB := service(t, path, time.Now)
	defer closeDB()
	a := raise(t, svc, "t-1", t0, "c1")
	if _, err := svc.Resolve(ctx, a.ID, "ana", alert.TruePositive, ""); err != nil {
		t.Fatal(err)
	}
	f.Kick()
	select {
	case <-labelled:
	case <-time.After(5 * time.Second):
		t.Fatal("no label 5s after Kick (interval 1h)")
	}
}
