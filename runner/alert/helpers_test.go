package alert_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/record"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// clock is a settable wall clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sqldb.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open db: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newService(t testing.TB, db *sql.DB, opts alert.Options) *alert.Service {
	t.Helper()
	svc, err := alert.NewService(newStore(t, db), opts)
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	return svc
}

// setup is a service over a fresh database with a fixed clock.
func setup(t testing.TB, opts alert.Options) (*alert.Service, *clock, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vigil.db")
	c := newClock()
	if opts.Now == nil {
		opts.Now = c.Now
	}
	return newService(t, openDB(t, path), opts), c, path
}

var t0 = time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)

func rec(id string, at time.Time, card string) record.Record {
	return record.Record{ID: id, Type: "payment", Time: at, Fields: map[string]any{
		"id": id, "ts": record.FormatTime(at), "type": "payment", "card_id": card, "amount": 12.5,
	}}
}

func hit(rule string, sev decision.Severity, reason string, entity *decision.Entity) decision.Hit {
	return decision.Hit{Rule: rule, Title: "Title of " + rule, Severity: sev, Action: decision.Block, Reason: reason, Entity: entity}
}

func card(v string) *decision.Entity { return &decision.Entity{Field: "card_id", Value: v} }

func decide(r record.Record, hits []decision.Hit, shadow ...decision.Hit) decision.Decision {
	action, score := decision.Aggregate(hits)
	return decision.Decision{RecordID: r.ID, RecordType: r.Type, Time: r.Time, Action: action, Score: score,
		Hits: hits, ShadowHits: shadow, PolicyRevision: "rev-1", RunnerVersion: "test"}
}

// observe is Observe of one record with the given hits, failing the test on error.
func observe(t testing.TB, svc *alert.Service, r record.Record, hits ...decision.Hit) []alert.Alert {
	t.Helper()
	as, err := svc.Observe(context.Background(), r, decide(r, hits))
	if err != nil {
		t.Fatalf("Observe(%s): %v", r.ID, err)
	}
	return as
}

func listAll(t testing.TB, svc *alert.Service) []alert.Alert {
	t.Helper()
	as, err := svc.List(context.Background(), alert.Filter{Limit: alert.MaxLimit})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return as
}

func eventKinds(t testing.TB, svc *alert.Service, id int64) []alert.EventKind {
	t.Helper()
	es, err := svc.Events(context.Background(), id)
	if err != nil {
		t.Fatalf("Events(%d): %v", id, err)
	}
	kinds := make([]alert.EventKind, len(es))
	for i, e := range es {
		kinds[i] = e.Kind
	}
	return kinds
}

func newStore(t testing.TB, db *sql.DB) *alertsqlite.Store {
	t.Helper()
	store, err := alertsqlite.New(context.Background(), db)
	if err != nil {
		t.Fatalf("alert store: %v", err)
	}
	return store
}

// equalAlert compares alerts by their JSON form, which compares times by instant.
func equalAlert(a, b alert.Alert) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
