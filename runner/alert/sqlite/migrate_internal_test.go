package sqlite

import (
	"io/fs"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/vigil-risk/vigil/runner/sqldb"
)

// A database from before the audit chain: its events are hashed in order
// when the store opens, and the chain then verifies and grows.
func TestOldEventsJoinTheChain(t *testing.T) {
	ctx := t.Context()
	db, err := sqldb.Open(ctx, filepath.Join(t.TempDir(), "old.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	first, err := fs.ReadFile(migrations, "migrations/001_alerts.sql")
	if err != nil {
		t.Fatal(err)
	}
	if err := sqldb.Migrate(ctx, db, Component, fstest.MapFS{"migrations/001_alerts.sql": {Data: first}}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO alerts (fingerprint, rule, title, severity, action, entity_field, entity_value, status, reason,
			last_record_id, count, first_seen, last_seen, created_at, updated_at)
			VALUES ('fp', 'r', 'R', 'high', 'block', 'card_id', 'c1', 'acknowledged', 'x', 't-1', 2,
			'2026-03-01T12:00:00.000000000Z', '2026-03-01T12:00:00.000000000Z', '2026-03-01T12:00:00.000000000Z', '2026-03-01T12:05:00.000000000Z')`,
		`INSERT INTO alert_events (alert_id, kind, actor, ts, data) VALUES (1, 'raised', 'vigil', '2026-03-01T12:00:00.000000000Z', '{}')`,
		`INSERT INTO alert_events (alert_id, kind, actor, ts, data) VALUES (1, 'repeated', 'vigil', '2026-03-01T12:01:00.000000000Z', '{}')`,
		`INSERT INTO alert_events (alert_id, kind, actor, ts, comment, data) VALUES (1, 'acknowledged', 'ana', '2026-03-01T12:05:00.000000000Z', 'mine', '{}')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}

	s, err := New(ctx, db)
	if err != nil {
		t.Fatalf("New over an old database: %v", err)
	}
	defer s.Close()
	rep, err := VerifyChain(ctx, db)
	if err != nil || rep.Events != 3 {
		t.Fatalf("VerifyChain after the upgrade = %+v, %v", rep, err)
	}
	a, err := s.Get(ctx, 1)
	if err != nil || a.HandledVersion != a.Version || a.Assignee != "" {
		t.Errorf("migrated alert = %+v, %v", a, err)
	}
	var lastHit string
	if err := db.QueryRowContext(ctx, `SELECT last_hit_at FROM alerts WHERE id = 1`).Scan(&lastHit); err != nil || lastHit != "2026-03-01T12:05:00.000000000Z" {
		t.Errorf("last_hit_at = %q, %v; want the old updated_at", lastHit, err)
	}
	// Opening again hashes nothing twice.
	again, err := New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	again.Close()
	if rep2, err := VerifyChain(ctx, db); err != nil || rep2.LastHash != rep.LastHash {
		t.Errorf("second open changed the chain: %+v, %v", rep2, err)
	}
}
