package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

func newStore(t *testing.T) (*alertsqlite.Store, *sql.DB) {
	t.Helper()
	db, err := sqldb.Open(t.Context(), filepath.Join(t.TempDir(), "alerts.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := alertsqlite.New(t.Context(), db)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, db
}

var now = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func newAlert(fp string) alert.Alert {
	return alert.Alert{Fingerprint: fp, Rule: "r", Title: "R", Severity: decision.High, Action: decision.Block,
		Entity: decision.Entity{Field: "card_id", Value: fp}, Status: alert.Open, Reason: "x", LastRecordID: "t-1",
		Count: 1, FirstSeen: now, LastSeen: now, CreatedAt: now, UpdatedAt: now, Tags: []string{"a", "b"}}
}

func insert(t *testing.T, s *alertsqlite.Store, a *alert.Alert) {
	t.Helper()
	err := s.InTx(t.Context(), func(tx alert.Tx) error { return tx.Insert(t.Context(), a) })
	if err != nil {
		t.Fatalf("Insert: %v", err)
	}
}

func TestInsertGetRoundTrip(t *testing.T) {
	s, _ := newStore(t)
	a := newAlert("fp1")
	a.Owner, a.Runbook, a.PolicyRevision = "team", "https://wiki", "rev"
	insert(t, s, &a)
	if a.ID == 0 || a.Version != 1 {
		t.Fatalf("Insert set id %d version %d", a.ID, a.Version)
	}
	got, err := s.Get(t.Context(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != a.ID || got.Fingerprint != "fp1" || !got.FirstSeen.Equal(now) || got.AckedAt != nil || got.ResolvedAt != nil ||
		!slices.Equal(got.Tags, []string{"a", "b"}) || got.Owner != "team" || got.Entity != a.Entity || got.Severity != decision.High {
		t.Errorf("Get = %+v, want %+v", got, a)
	}
}

func TestSecondUnresolvedFingerprintConflicts(t *testing.T) {
	s, _ := newStore(t)
	a := newAlert("fp1")
	insert(t, s, &a)
	b := newAlert("fp1")
	err := s.InTx(t.Context(), func(tx alert.Tx) error { return tx.Insert(t.Context(), &b) })
	if !errors.Is(err, alert.ErrConflict) {
		t.Fatalf("second Insert error = %v, want ErrConflict", err)
	}
	// Once the first is resolved, the fingerprint is free again.
	err = s.InTx(t.Context(), func(tx alert.Tx) error {
		a.Status, a.Resolution = alert.Resolved, alert.Benign
		if err := tx.Update(t.Context(), &a); err != nil {
			return err
		}
		return tx.Insert(t.Context(), &b)
	})
	if err != nil || b.ID == a.ID {
		t.Fatalf("Insert after resolve: id %d, %v", b.ID, err)
	}
}

func TestStaleVersionConflicts(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	a := newAlert("fp1")
	insert(t, s, &a)
	stale := a
	if err := s.InTx(ctx, func(tx alert.Tx) error { a.Count = 2; return tx.Repeat(ctx, &a) }); err != nil || a.Version != 2 {
		t.Fatalf("Repeat: version %d, %v", a.Version, err)
	}
	for name, write := range map[string]func(alert.Tx) error{
		"Update": func(tx alert.Tx) error { return tx.Update(ctx, &stale) },
		"Repeat": func(tx alert.Tx) error { return tx.Repeat(ctx, &stale) },
	} {
		if err := s.InTx(ctx, write); !errors.Is(err, alert.ErrConflict) || !strings.Contains(err.Error(), "version 1") {
			t.Errorf("%s with a stale version: %v, want ErrConflict naming version 1", name, err)
		}
	}
}

func TestInTxRollsBack(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	boom := errors.New("boom")
	a := newAlert("fp1")
	err := s.InTx(ctx, func(tx alert.Tx) error {
		if err := tx.Insert(ctx, &a); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want boom", err)
	}
	func() {
		defer func() { recover() }()
		s.InTx(ctx, func(tx alert.Tx) error {
			b := newAlert("fp2")
			tx.Insert(ctx, &b)
			panic("bug")
		})
	}()
	// Neither insert survived, and the pool's only connection came back.
	ctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	as, err := s.List(ctx2, alert.Filter{})
	if err != nil || len(as) != 0 {
		t.Errorf("after rollback List = %v, %v; want none", as, err)
	}
}

func TestFeedAndRecords(t *testing.T) {
	s, db := newStore(t)
	ctx := t.Context()
	a := newAlert("fp1")
	insert(t, s, &a)
	kinds := []alert.EventKind{alert.EventRaised, alert.EventRepeated, alert.EventRepeated, alert.EventAcknowledged, alert.EventResolved}
	err := s.InTx(ctx, func(tx alert.Tx) error {
		for _, k := range kinds {
			if err := tx.AddEvent(ctx, &alert.Event{AlertID: a.ID, Kind: k, Actor: "x", Time: now, Data: []byte(`{"k":"` + string(k) + `"}`)}); err != nil {
				return err
			}
		}
		for i := range 5 {
			r := alert.AlertRecord{AlertID: a.ID, RecordID: string(rune('a' + i)), Time: now, Fields: []byte(`{}`), Decision: []byte(`{}`), AddedAt: now}
			if err := tx.AddRecord(ctx, &r); err != nil {
				return err
			}
		}
		return tx.TrimRecords(ctx, a.ID, 2)
	})
	if err != nil {
		t.Fatal(err)
	}

	feed, err := alertsqlite.Feed(ctx, db, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(feed) != 2 || feed[0].Kind != alert.EventRaised || feed[1].Kind != alert.EventResolved || string(feed[1].Data) != `{"k":"resolved"}` {
		t.Fatalf("Feed = %+v, want the raised and resolved events", feed)
	}
	if rest, _ := alertsqlite.Feed(ctx, db, feed[0].ID, 10); len(rest) != 1 || rest[0].ID != feed[1].ID {
		t.Errorf("Feed after %d = %+v, want only the resolved event", feed[0].ID, rest)
	}
	if first, _ := alertsqlite.Feed(ctx, db, 0, 1); len(first) != 1 || first[0].ID != feed[0].ID {
		t.Errorf("Feed limit 1 = %+v", first)
	}

	rs, err := s.Records(ctx, a.ID)
	if err != nil || len(rs) != 2 || rs[0].RecordID != "d" || rs[1].RecordID != "e" {
		t.Errorf("Records after trim to 2 = %+v, %v; want d, e", rs, err)
	}
	es, err := s.Events(ctx, a.ID)
	if err != nil || len(es) != len(kinds) {
		t.Errorf("Events = %d, %v; want %d", len(es), err, len(kinds))
	}
}

// The hot queries must use their indexes; a reworded condition silently
// stops SQLite from using a partial index.
func TestQueriesUseIndexes(t *testing.T) {
	_, db := newStore(t)
	for _, tc := range []struct {
		query string
		index string
	}{
		{`SELECT id FROM alert_events WHERE kind IN ('raised', 'resolved', 'reopened', 'escalated', 'guard_tripped') AND id > 5 ORDER BY id LIMIT 10`, "alert_events_feed"},
		{`SELECT rule, resolution, COUNT(*) FROM alerts INDEXED BY alerts_resolved_labels WHERE status = 'resolved' GROUP BY rule, resolution`, "alerts_resolved_labels"},
		{`SELECT id FROM alerts WHERE fingerprint = 'x' AND status <> 'resolved'`, "alerts_"},
		{`SELECT id FROM alert_records WHERE alert_id = 1 ORDER BY id DESC LIMIT 1 OFFSET 20`, "alert_records_alert"},
	} {
		rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+tc.query)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			rows.Scan(&id, &parent, &unused, &detail)
			plan = append(plan, detail)
		}
		rows.Close()
		if !strings.Contains(strings.Join(plan, "; "), tc.index) {
			t.Errorf("plan for %s = %v, want it to use %s", tc.query, plan, tc.index)
		}
	}
}

func TestNewIsIdempotent(t *testing.T) {
	s, db := newStore(t)
	a := newAlert("fp1")
	insert(t, s, &a)
	again, err := alertsqlite.New(t.Context(), db)
	if err != nil {
		t.Fatalf("second New: %v", err)
	}
	defer again.Close()
	if got, err := again.Get(t.Context(), a.ID); err != nil || got.Fingerprint != "fp1" {
		t.Errorf("Get through the second store = %+v, %v", got, err)
	}
}
