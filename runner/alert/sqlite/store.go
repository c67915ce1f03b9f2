// Package sqlite stores alerts, their records and their audit events in the
// embedded SQLite database (see sqldb). It implements alert.Store.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Component is this store's name in schema_migrations.
const Component = "alert"

// Migrate creates or upgrades the alert tables. New calls it; the notifier
// calls it too, since it reads alert_events.
func Migrate(ctx context.Context, db *sql.DB) error {
	return sqldb.Migrate(ctx, db, Component, migrations)
}

// Store is alert.Store over a database opened with sqldb.Open.
type Store struct {
	db    *sql.DB
	stmts *statements
}

var _ alert.Store = (*Store)(nil)

// New migrates the schema, hashes any events written before the audit
// chain existed, and returns the store. Close it before the database.
func New(ctx context.Context, db *sql.DB) (*Store, error) {
	if err := Migrate(ctx, db); err != nil {
		return nil, err
	}
	if err := hashUnchained(ctx, db); err != nil {
		return nil, fmt.Errorf("alert store: %w", err)
	}
	stmts, err := prepare(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("alert store: %w", err)
	}
	return &Store{db: db, stmts: stmts}, nil
}

// Close releases the prepared statements; the database stays open.
func (s *Store) Close() error { return s.stmts.close() }

// Querier is what reads need: a *sql.DB or a *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// InTx implements alert.Store.
func (s *Store) InTx(ctx context.Context, fn func(alert.Tx) error) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed { // also on panic: the pool's one connection must come back
			tx.Rollback()
		}
	}()
	if err := fn(&txn{tx: tx, stmts: s.stmts}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	committed = true
	return nil
}

// Get implements alert.Store.
func (s *Store) Get(ctx context.Context, id int64) (alert.Alert, error) {
	return getAlert(s.stmts.getAlert.QueryRowContext(ctx, id), id)
}

func getAlert(row *sql.Row, id int64) (alert.Alert, error) {
	a, err := scanAlert(row)
	if errors.Is(err, sql.ErrNoRows) {
		return alert.Alert{}, fmt.Errorf("alert %d: %w", id, alert.ErrNotFound)
	}
	if err != nil {
		return alert.Alert{}, fmt.Errorf("alert %d: %w", id, err)
	}
	return a, nil
}

// List implements alert.Store. Filter values arrive validated by the Service.
func (s *Store) List(ctx context.Context, f alert.Filter) ([]alert.Alert, error) {
	var where []string
	var args []any
	add := func(cond string, vals ...any) {
		where = append(where, cond)
		args = append(args, vals...)
	}
	if f.Status != "" {
		add("status = ?", string(f.Status))
	}
	if f.Rule != "" {
		add("rule = ?", f.Rule)
	}
	if f.Severity != "" {
		add("severity = ?", string(f.Severity))
	}
	if field, value, ok := strings.Cut(f.Entity, "="); ok {
		add("entity_value = ? AND entity_field = ?", value, field)
	} else if f.Entity != "" {
		add("entity_value = ?", f.Entity)
	}
	switch f.Assignee {
	case "":
	case "-":
		add("assignee = ''")
	default:
		add("assignee = ?", f.Assignee)
	}
	if f.Unresolved {
		add("status <> 'resolved'")
	}
	if !f.Since.IsZero() {
		add("created_at >= ?", sqldb.FormatTime(f.Since))
	}
	if !f.Until.IsZero() {
		add("created_at < ?", sqldb.FormatTime(f.Until))
	}
	if !f.QuietSince.IsZero() {
		add("last_hit_at <= ?", sqldb.FormatTime(f.QuietSince))
	}
	if f.Before > 0 {
		add("id < ?", f.Before)
	}
	query := `SELECT ` + alertColumns + ` FROM alerts`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = alert.DefaultLimit
	}
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)

	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	defer rows.Close()
	var out []alert.Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, fmt.Errorf("list alerts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	return out, nil
}

// Records implements alert.Store.
func (s *Store) Records(ctx context.Context, alertID int64) ([]alert.AlertRecord, error) {
	return RecordsOf(ctx, s.db, alertID)
}

// RecordsOf is Store.Records through q: a consumer reads them with the
// transaction that moves its cursor (Consume).
func RecordsOf(ctx context.Context, q Querier, alertID int64) ([]alert.AlertRecord, error) {
	rows, err := q.QueryContext(ctx, qRecords, alertID)
	if err != nil {
		return nil, fmt.Errorf("alert %d: records: %w", alertID, err)
	}
	defer rows.Close()
	var out []alert.AlertRecord
	for rows.Next() {
		var r alert.AlertRecord
		var ts, added string
		var fields, dec []byte
		if err := rows.Scan(&r.ID, &r.AlertID, &r.RecordID, &ts, &fields, &dec, &added); err != nil {
			return nil, fmt.Errorf("alert %d: records: %w", alertID, err)
		}
		r.Fields, r.Decision = fields, dec
		if r.Time, err = sqldb.ParseTime(ts); err != nil {
			return nil, fmt.Errorf("alert %d: record %d: %w", alertID, r.ID, err)
		}
		if r.AddedAt, err = sqldb.ParseTime(added); err != nil {
			return nil, fmt.Errorf("alert %d: record %d: %w", alertID, r.ID, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("alert %d: records: %w", alertID, err)
	}
	return out, nil
}

// Events implements alert.Store.
func (s *Store) Events(ctx context.Context, alertID int64) ([]alert.Event, error) {
	rows, err := s.db.QueryContext(ctx, qEvents, alertID)
	if err != nil {
		return nil, fmt.Errorf("alert %d: events: %w", alertID, err)
	}
	es, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("alert %d: events: %w", alertID, err)
	}
	return es, nil
}

// LabelCounts implements alert.Store, from the index alerts_resolved_labels.
func (s *Store) LabelCounts(ctx context.Context) ([]alert.LabelCount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT rule, resolution, COUNT(*) FROM alerts INDEXED BY alerts_resolved_labels
		WHERE status = 'resolved' GROUP BY rule, resolution ORDER BY rule, resolution`)
	if err != nil {
		return nil, fmt.Errorf("count resolutions: %w", err)
	}
	defer rows.Close()
	var out []alert.LabelCount
	for rows.Next() {
		var c alert.LabelCount
		var r string
		if err := rows.Scan(&c.Rule, &r, &c.Alerts); err != nil {
			return nil, fmt.Errorf("count resolutions: %w", err)
		}
		c.Resolution = alert.Resolution(r)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count resolutions: %w", err)
	}
	return out, nil
}

// FeedKinds are the events Feed returns: what notify fans out.
var FeedKinds = []alert.EventKind{alert.EventRaised, alert.EventResolved, alert.EventReopened, alert.EventEscalated, alert.EventGuardTripped}

// Feed returns up to limit events of the FeedKinds with an ID above after,
// oldest first: what a notifier fans out. Call it with the
// transaction that records the notifier's cursor. The cursor never skips an
// event: SQLite has one writer at a time, so IDs are handed out in commit
// order (a PostgreSQL store will need more than an ID cursor).
func Feed(ctx context.Context, q Querier, after int64, limit int) ([]alert.Event, error) {
	rows, err := q.QueryContext(ctx, qFeed, after, limit)
	if err != nil {
		return nil, fmt.Errorf("alert feed after event %d: %w", after, err)
	}
	es, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("alert feed after event %d: %w", after, err)
	}
	return es, nil
}
