package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/vigil-risk/vigil/runner/alert"
)

// hashUnchained puts the events written before the chain existed (hash
// empty) on it, in ID order, in one transaction. That happens once, on the
// first open after migration 002: once any event is hashed, every later one
// is hashed as it is written, so an unhashed event then was written around
// the chain — it is left alone for `vigil audit verify` to report, never
// adopted.
func hashUnchained(ctx context.Context, db *sql.DB) (err error) {
	var pending, hashed int
	err = db.QueryRowContext(ctx, `SELECT COUNT(*) FILTER (WHERE hash = ''), COUNT(*) FILTER (WHERE hash <> '') FROM alert_events`).
		Scan(&pending, &hashed)
	if err != nil {
		return fmt.Errorf("audit chain: %w", err)
	}
	if pending == 0 || hashed > 0 {
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("audit chain: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	rows, err := tx.QueryContext(ctx, `SELECT `+eventColumns+` FROM alert_events WHERE hash = '' ORDER BY id`)
	if err != nil {
		return fmt.Errorf("audit chain: %w", err)
	}
	events, err := scanEvents(rows)
	if err != nil {
		return fmt.Errorf("audit chain: %w", err)
	}
	var prev string
	err = tx.QueryRowContext(ctx, `SELECT hash FROM alert_events WHERE id < ? AND hash <> '' ORDER BY id DESC LIMIT 1`,
		events[0].ID).Scan(&prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("audit chain: %w", err)
	}
	stmt, err := tx.PrepareContext(ctx, `UPDATE alert_events SET prev_hash = ?, hash = ? WHERE id = ?`)
	if err != nil {
		return fmt.Errorf("audit chain: %w", err)
	}
	defer stmt.Close()
	for i := range events {
		e := &events[i]
		e.PrevHash = prev
		e.Hash = alert.ChainHash(e)
		if _, err := stmt.ExecContext(ctx, e.PrevHash, e.Hash, e.ID); err != nil {
			return fmt.Errorf("audit chain: event %d: %w", e.ID, err)
		}
		prev = e.Hash
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("audit chain: %w", err)
	}
	return nil
}

// ChainReport is what VerifyChain found.
type ChainReport struct {
	Events   int    // events checked
	LastID   int64  // the newest event's ID
	LastHash string // its hash: keep it elsewhere to detect later deletions of the newest events
}

// VerifyChain walks the whole audit chain in ID order and returns the first
// break as an *alert.ChainError: an edited event, a deleted one (a gap, or
// the newest ones gone, which SQLite's sequence still remembers), or one
// written around the chain.
func VerifyChain(ctx context.Context, db *sql.DB) (ChainReport, error) {
	var rep ChainReport
	chain := &alert.Chain{}
	err := EachEvent(ctx, db, 0, func(e *alert.Event) error {
		if err := chain.Add(e); err != nil {
			return err
		}
		rep.Events++
		return nil
	})
	rep.LastID, rep.LastHash = chain.Head()
	if err != nil {
		return rep, err
	}
	var seq int64
	err = db.QueryRowContext(ctx, `SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'alert_events'), 0)`).Scan(&seq)
	if err != nil {
		return rep, fmt.Errorf("audit chain: %w", err)
	}
	if seq > rep.LastID {
		return rep, &alert.ChainError{EventID: rep.LastID + 1,
			Reason: fmt.Sprintf("events %d to %d, the newest, are missing (deleted)", rep.LastID+1, seq)}
	}
	return rep, nil
}

// EachEvent calls fn with every event after the ID after, oldest first,
// until fn returns an error (which EachEvent returns). It holds the
// database's connection throughout: fn must not use the database.
func EachEvent(ctx context.Context, db *sql.DB, after int64, fn func(*alert.Event) error) error {
	rows, err := db.QueryContext(ctx, `SELECT `+eventColumns+` FROM alert_events WHERE id > ? ORDER BY id`, after)
	if err != nil {
		return fmt.Errorf("read alert events: %w", err)
	}
	defer rows.Close()
	var e alert.Event
	var kind, ts string
	var data []byte
	for rows.Next() {
		if err := scanEvent(rows, &e, &kind, &ts, &data); err != nil {
			return fmt.Errorf("read alert events: %w", err)
		}
		if err := fn(&e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read alert events: %w", err)
	}
	return nil
}

// lastEventID is the newest event's ID, or 0.
func lastEventID(ctx context.Context, q Querier) (int64, error) {
	var id int64
	err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM alert_events`).Scan(&id)
	return id, err
}
