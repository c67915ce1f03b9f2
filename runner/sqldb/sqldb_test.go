package sqldb_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vigil-risk/vigil/runner/sqldb"
)

func open(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sqldb.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenAppliesPragmas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "vigil.db")
	db := open(t, path)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file not created: %v", err)
	}
	for _, tc := range []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "1"}, // NORMAL
		{"foreign_keys", "1"},
		{"busy_timeout", "5000"},
	} {
		var got string
		if err := db.QueryRowContext(t.Context(), "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tc.pragma, err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s = %q, want %q", tc.pragma, got, tc.want)
		}
	}
	if got := db.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("MaxOpenConnections = %d, want 1 (one writer)", got)
	}
}

func TestOpenRejectsBadPaths(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"empty", "", "path is empty"},
		{"question mark", filepath.Join(t.TempDir(), "a?b.db"), "must not contain '?'"},
		{"parent is a file", filepath.Join(blocker, "vigil.db"), "create directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := sqldb.Open(t.Context(), tc.path)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tc.path)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%q) error = %q, want it to mention %q", tc.path, err, tc.want)
			}
		})
	}
}

func TestMigrateAppliesInOrderOnce(t *testing.T) {
	ctx := t.Context()
	db := open(t, filepath.Join(t.TempDir(), "m.db"))
	fsys := fstest.MapFS{
		// Version 10 must run after 2 (numeric, not lexical order).
		"migrations/010_add_note.sql":    {Data: []byte(`ALTER TABLE things ADD COLUMN note TEXT NOT NULL DEFAULT '';`)},
		"migrations/002_seed.sql":        {Data: []byte(`INSERT INTO things (name) VALUES ('a'); INSERT INTO things (name) VALUES ('b');`)},
		"migrations/001_create.sql":      {Data: []byte(`CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL);`)},
		"migrations/README.md":           {Data: []byte(`not a migration`)},
		"migrations/sub/003_nothing.sql": {Data: []byte(`SELECT 1;`)},
	}
	for range 2 { // the second run must be a no-op
		if err := sqldb.Migrate(ctx, db, "things", fsys); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM things WHERE note = ''`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("things = %d rows, want 2 (seed applied exactly once)", n)
	}
	rows, err := db.QueryContext(ctx, `SELECT version, name, applied_at FROM schema_migrations WHERE component = 'things' ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var v int
		var name, at string
		if err := rows.Scan(&v, &name, &at); err != nil {
			t.Fatal(err)
		}
		if _, err := sqldb.ParseTime(at); err != nil {
			t.Errorf("applied_at: %v", err)
		}
		got = append(got, name)
	}
	if want := "create seed nothing add_note"; strings.Join(got, " ") != want {
		t.Errorf("applied = %v, want %s", got, want)
	}

	// Another component with the same version numbers is independent.
	other := fstest.MapFS{"001_create.sql": {Data: []byte(`CREATE TABLE others (id INTEGER PRIMARY KEY);`)}}
	if err := sqldb.Migrate(ctx, db, "others", other); err != nil {
		t.Fatalf("Migrate others: %v", err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO others DEFAULT VALUES`); err != nil {
		t.Errorf("others table missing: %v", err)
	}
}

func TestMigrateFailureRollsBackAndNamesFile(t *testing.T) {
	ctx := t.Context()
	db := open(t, filepath.Join(t.TempDir(), "m.db"))
	fsys := fstest.MapFS{
		"001_ok.sql":     {Data: []byte(`CREATE TABLE a (id INTEGER PRIMARY KEY);`)},
		"002_broken.sql": {Data: []byte(`CREATE TABLE b (id INTEGER PRIMARY KEY); CREATE TABLE oops (;`)},
	}
	err := sqldb.Migrate(ctx, db, "c", fsys)
	if err == nil || !strings.Contains(err.Error(), "migrate c: 002_broken.sql") {
		t.Fatalf("Migrate error = %v, want one naming 002_broken.sql", err)
	}
	// 001 stays applied; nothing of 002 survives.
	var tables []string
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('a', 'b') ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		tables = append(tables, s)
	}
	rows.Close()
	if strings.Join(tables, ",") != "a" {
		t.Errorf("tables = %v, want only a (002 rolled back)", tables)
	}
	var versions int
	db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE component = 'c'`).Scan(&versions)
	if versions != 1 {
		t.Errorf("recorded versions = %d, want 1", versions)
	}
	// Fixing the file lets the next run finish.
	fsys["002_broken.sql"] = &fstest.MapFile{Data: []byte(`CREATE TABLE b (id INTEGER PRIMARY KEY);`)}
	if err := sqldb.Migrate(ctx, db, "c", fsys); err != nil {
		t.Fatalf("Migrate after fix: %v", err)
	}
}

func TestMigrateRejectsBadSets(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "m.db"))
	for _, tc := range []struct {
		name      string
		component string
		fsys      fstest.MapFS
		want      string
	}{
		{"no component", "", fstest.MapFS{"001_a.sql": {}}, "component is empty"},
		{"bad name", "x", fstest.MapFS{"001_a.sql": {}, "create.sql": {}}, "create.sql: want a name like"},
		{"zero version", "x", fstest.MapFS{"000_a.sql": {}}, "000_a.sql: version must be a positive number"},
		{"duplicate", "x", fstest.MapFS{"001_a.sql": {}, "1_b.sql": {}}, "have the same version 1"},
		{"empty", "x", fstest.MapFS{"notes.txt": {}}, "no NNN_name.sql migration files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := sqldb.Migrate(t.Context(), db, tc.component, tc.fsys)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Migrate error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// Two processes starting at once share the file through separate pools; the
// migration still runs exactly once.
func TestMigrateConcurrentOpeners(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	fsys := fstest.MapFS{
		"001_create.sql": {Data: []byte(`CREATE TABLE counter (n INTEGER NOT NULL);`)},
		"002_seed.sql":   {Data: []byte(`INSERT INTO counter (n) VALUES (1);`)},
	}
	dbs := []*sql.DB{open(t, path), open(t, path), open(t, path)}
	var wg sync.WaitGroup
	errs := make([]error, len(dbs))
	for i, db := range dbs {
		wg.Go(func() { errs[i] = sqldb.Migrate(context.Background(), db, "c", fsys) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("opener %d: %v", i, err)
		}
	}
	var n int
	if err := dbs[0].QueryRowContext(t.Context(), `SELECT COUNT(*) FROM counter`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("seed rows = %d, want 1", n)
	}
}

func TestTimeRoundTripAndOrder(t *testing.T) {
	a := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	b := a.Add(500 * time.Millisecond)
	c := a.Add(time.Nanosecond)
	for _, tm := range []time.Time{a, b, c} {
		got, err := sqldb.ParseTime(sqldb.FormatTime(tm))
		if err != nil || !got.Equal(tm) || got.Location() != time.UTC {
			t.Errorf("round trip of %v = %v, %v", tm, got, err)
		}
	}
	// Text order must match time order (a bare "…05Z" would sort after "…05.5Z").
	if !(sqldb.FormatTime(a) < sqldb.FormatTime(c) && sqldb.FormatTime(c) < sqldb.FormatTime(b)) {
		t.Errorf("stored times do not sort: %s %s %s", sqldb.FormatTime(a), sqldb.FormatTime(c), sqldb.FormatTime(b))
	}
	if _, err := sqldb.ParseTime("yesterday"); err == nil || !strings.Contains(err.Error(), `"yesterday"`) {
		t.Errorf("ParseTime(yesterday) error = %v", err)
	}
	if got, err := sqldb.ParseNullTime(sql.NullString{}); got != nil || err != nil {
		t.Errorf("ParseNullTime(NULL) = %v, %v", got, err)
	}
	if sqldb.NullTime(nil) != nil {
		t.Error("NullTime(nil) is not NULL")
	}
}
