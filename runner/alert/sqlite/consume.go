package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// Consume hands fn the events of the given kinds written after the named
// consumer's cursor, at most limit, in one transaction that also moves the
// cursor past them — and past the events of other kinds in between, so that
// each event is read once. fn must use only tx (the pool's one connection is
// the transaction's); when it fails, nothing moves. A consumer that never
// ran starts after the newest event: it handles what happens from its first
// start on, not the history. It returns how many events fn got and whether
// more may be waiting.
//
// The consumers of alert handling (escalation, auto-actions) tail the audit
// trail as notify does, each at its own pace, and survive restarts.
func Consume(ctx context.Context, db *sql.DB, name string, kinds []alert.EventKind, limit int,
	fn func(tx *sql.Tx, events []alert.Event) error) (n int, more bool, err error) {
	if name == "" || len(kinds) == 0 || limit < 1 {
		return 0, false, fmt.Errorf("consume alert events: name %q, %d kinds, limit %d", name, len(kinds), limit)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, fmt.Errorf("consume alert events (%s): %w", name, err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	fail := func(err error) (int, bool, error) {
		return 0, false, fmt.Errorf("consume alert events (%s): %w", name, err)
	}
	last, err := lastEventID(ctx, tx)
	if err != nil {
		return fail(err)
	}
	var cursor int64
	err = tx.QueryRowContext(ctx, `SELECT event_id FROM alert_cursors WHERE name = ?`, name).Scan(&cursor)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		cursor = last
		if err := setCursor(ctx, tx, name, cursor); err != nil {
			return fail(err)
		}
		return 0, false, tx.Commit()
	case err != nil:
		return fail(err)
	}
	if cursor >= last {
		return 0, false, tx.Rollback()
	}
	args := []any{cursor, last}
	for _, k := range kinds {
		args = append(args, string(k))
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+eventColumns+` FROM alert_events WHERE id > ? AND id <= ?
		AND kind IN (?`+strings.Repeat(", ?", len(kinds)-1)+`) ORDER BY id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return fail(err)
	}
	events, err := scanEvents(rows)
	if err != nil {
		return fail(err)
	}
	upTo := last
	if len(events) == limit {
		upTo, more = events[len(events)-1].ID, true
	}
	if len(events) > 0 {
		if err := fn(tx, events); err != nil {
			return fail(err)
		}
	}
	if err := setCursor(ctx, tx, name, upTo); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return len(events), more, nil
}

// StartCursor places a consumer's cursor after the newest event unless it
// has one: call it when the consumer is created, so that it handles every
// event from then on (Consume would start at its own first run).
func StartCursor(ctx context.Context, db *sql.DB, name string) error {
	_, err := db.ExecContext(ctx, `INSERT INTO alert_cursors (name, event_id, updated_at)
		VALUES (?, (SELECT COALESCE(MAX(id), 0) FROM alert_events), ?) ON CONFLICT (name) DO NOTHING`,
		name, sqldb.FormatTime(time.Now()))
	if err != nil {
		return fmt.Errorf("start the cursor of %s: %w", name, err)
	}
	return nil
}

func setCursor(ctx context.Context, tx *sql.Tx, name string, id int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO alert_cursors (name, event_id, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET event_id = excluded.event_id, updated_at = excluded.updated_at`,
		name, id, sqldb.FormatTime(time.Now()))
	return err
}
