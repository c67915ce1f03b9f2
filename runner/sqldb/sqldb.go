// Package sqldb is the one place that opens the embedded SQLite database and
// applies each package's schema migrations. Stores (alerts, the notification
// outbox) share one file and one *sql.DB.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// BusyTimeout is how long a connection waits for another process's write lock
// before failing with SQLITE_BUSY.
const BusyTimeout = 5 * time.Second

// Open opens (creating it and its parent directory if needed) the SQLite
// database at path: WAL journal, synchronous=NORMAL (durable at checkpoints,
// never corrupt), foreign keys on, a busy timeout, and BEGIN IMMEDIATE for
// every write transaction so that a read-then-write transaction never fails
// half-way on a lock upgrade.
//
// The pool holds a single connection: SQLite allows one writer at a time, and
// queueing writers in the pool is much faster than letting them sleep in
// SQLite's busy handler. The consequence for callers: never start a query on
// the *sql.DB while iterating rows or holding a transaction from it — that
// waits for the one connection forever (or until its context ends).
func Open(ctx context.Context, path string) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: database path is empty")
	}
	// The driver splits the DSN at the first '?', so such a path would lose its tail.
	if strings.Contains(path, "?") {
		return nil, fmt.Errorf("sqlite: database path %q must not contain '?'", path)
	}
	if path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("sqlite: create directory for %s: %w", path, err)
		}
	}
	dsn := path + "?" + strings.Join([]string{
		fmt.Sprintf("_pragma=busy_timeout(%d)", BusyTimeout.Milliseconds()),
		"_pragma=journal_mode(WAL)",
		"_pragma=synchronous(NORMAL)",
		"_pragma=foreign_keys(1)",
		"_txlock=immediate",
	}, "&")
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0) // keep the connection (and a :memory: database) for good
	db.SetConnMaxIdleTime(0)
	// sql.Open is lazy: connect now so a bad path or a locked file fails here.
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return db, nil
}

// IsUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY constraint
// failure, so that stores can turn it into their own conflict error.
func IsUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// timeLayout is RFC 3339 in UTC with a fixed nine fractional digits, so that
// stored times compare correctly as text (in ORDER BY and range conditions)
// and round-trip exactly.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// FormatTime is the stored form of a time: fixed-width RFC 3339 in UTC.
func FormatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// ParseTime reads a time stored by FormatTime (or any RFC 3339 text).
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// NullTime is the stored form of an optional time: NULL for nil.
func NullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return FormatTime(*t)
}

// ParseNullTime reads an optional time stored by NullTime.
func ParseNullTime(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := ParseTime(s.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}
