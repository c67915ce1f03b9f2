package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// txn is alert.Tx over one *sql.Tx, running the store's prepared statements.
type txn struct {
	tx    *sql.Tx
	stmts *statements
	// The chain's head as of this transaction's latest event: read once,
	// then carried from one AddEvent to the next.
	headKnown bool
	nextID    int64
	lastHash  string
}

func (t *txn) Get(ctx context.Context, id int64) (alert.Alert, error) {
	return getAlert(t.tx.StmtContext(ctx, t.stmts.getAlert).QueryRowContext(ctx, id), id)
}

func (t *txn) Unresolved(ctx context.Context, fingerprint string) (alert.Alert, bool, error) {
	a, err := scanAlert(t.tx.StmtContext(ctx, t.stmts.unresolved).QueryRowContext(ctx, fingerprint))
	if errors.Is(err, sql.ErrNoRows) {
		return alert.Alert{}, false, nil
	}
	if err != nil {
		return alert.Alert{}, false, fmt.Errorf("find unresolved alert %s: %w", fingerprint, err)
	}
	return a, true, nil
}

func (t *txn) Insert(ctx context.Context, a *alert.Alert) error {
	tags, err := encodeTags(a.Tags)
	if err != nil {
		return fmt.Errorf("insert alert %s: %w", a.Fingerprint, err)
	}
	res, err := t.tx.StmtContext(ctx, t.stmts.insertAlert).ExecContext(ctx,
		a.Fingerprint, a.Rule, a.Title, string(a.Severity), string(a.Action), a.Entity.Field, a.Entity.Value,
		string(a.Status), string(a.Resolution), a.Reason, a.LastRecordID, a.Count,
		sqldb.FormatTime(a.FirstSeen), sqldb.FormatTime(a.LastSeen), sqldb.FormatTime(a.CreatedAt), sqldb.FormatTime(a.UpdatedAt),
		a.PolicyRevision, a.Owner, a.Runbook, tags, a.AckedBy, sqldb.NullTime(a.AckedAt), a.ResolvedBy, sqldb.NullTime(a.ResolvedAt), a.Comment,
		a.Assignee, sqldb.NullTime(a.SnoozedUntil), a.UpdatedBy, a.Downgraded, a.EscalationLevel, a.Escalations,
		sqldb.FormatTime(a.UpdatedAt))
	if sqldb.IsUniqueViolation(err) {
		return fmt.Errorf("insert alert %s: an unresolved alert with this fingerprint exists: %w", a.Fingerprint, alert.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("insert alert %s: %w", a.Fingerprint, err)
	}
	if a.ID, err = res.LastInsertId(); err != nil {
		return fmt.Errorf("insert alert %s: %w", a.Fingerprint, err)
	}
	a.Version, a.HandledVersion = 1, 1
	return nil
}

func (t *txn) Update(ctx context.Context, a *alert.Alert) error {
	res, err := t.tx.StmtContext(ctx, t.stmts.updateAlert).ExecContext(ctx,
		string(a.Status), string(a.Resolution), string(a.Action), a.Reason, a.LastRecordID, a.Count,
		sqldb.FormatTime(a.FirstSeen), sqldb.FormatTime(a.LastSeen), sqldb.FormatTime(a.UpdatedAt),
		a.AckedBy, sqldb.NullTime(a.AckedAt), a.ResolvedBy, sqldb.NullTime(a.ResolvedAt), a.Comment,
		a.Assignee, sqldb.NullTime(a.SnoozedUntil), a.UpdatedBy, a.Downgraded, a.EscalationLevel, a.Escalations,
		a.HandledVersion, a.ID, a.Version)
	return t.versioned(res, err, a)
}

// versioned finishes an update guarded by the alert's version.
func (*txn) versioned(res sql.Result, err error, a *alert.Alert) error {
	if sqldb.IsUniqueViolation(err) {
		return fmt.Errorf("update alert %d: another unresolved alert has its fingerprint: %w", a.ID, alert.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("update alert %d: %w", a.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update alert %d: %w", a.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("update alert %d: version %d is no longer current: %w", a.ID, a.Version, alert.ErrConflict)
	}
	a.Version++
	return nil
}

func (t *txn) Repeat(ctx context.Context, a *alert.Alert) error {
	res, err := t.tx.StmtContext(ctx, t.stmts.repeatAlert).ExecContext(ctx,
		a.Reason, a.LastRecordID, a.Count, sqldb.FormatTime(a.FirstSeen), sqldb.FormatTime(a.LastSeen),
		sqldb.FormatTime(a.UpdatedAt), a.ID, a.Version)
	return t.versioned(res, err, a)
}

func (t *txn) AddRecord(ctx context.Context, r *alert.AlertRecord) error {
	res, err := t.tx.StmtContext(ctx, t.stmts.insertRecord).ExecContext(ctx,
		r.AlertID, r.RecordID, sqldb.FormatTime(r.Time), string(r.Fields), string(r.Decision), sqldb.FormatTime(r.AddedAt))
	if err != nil {
		return fmt.Errorf("alert %d: add record %s: %w", r.AlertID, r.RecordID, err)
	}
	if r.ID, err = res.LastInsertId(); err != nil {
		return fmt.Errorf("alert %d: add record %s: %w", r.AlertID, r.RecordID, err)
	}
	return nil
}

func (t *txn) TrimRecords(ctx context.Context, alertID int64, keep int) error {
	if _, err := t.tx.StmtContext(ctx, t.stmts.trimRecords).ExecContext(ctx, alertID, keep); err != nil {
		return fmt.Errorf("alert %d: trim records: %w", alertID, err)
	}
	return nil
}

// AddEvent appends e to the chain: its ID is the next one AUTOINCREMENT
// would hand out, so that the hash can cover it.
func (t *txn) AddEvent(ctx context.Context, e *alert.Event) error {
	if !t.headKnown {
		var seq, lastID int64
		if err := t.tx.StmtContext(ctx, t.stmts.chainHead).QueryRowContext(ctx).Scan(&seq, &lastID, &t.lastHash); err != nil {
			return fmt.Errorf("alert %d: add %s event: read the chain head: %w", e.AlertID, e.Kind, err)
		}
		t.nextID, t.headKnown = max(seq, lastID)+1, true
	}
	e.ID, e.PrevHash = t.nextID, t.lastHash
	e.Time = e.Time.UTC()
	e.Hash = alert.ChainHash(e)
	if _, err := t.tx.StmtContext(ctx, t.stmts.insertEvent).ExecContext(ctx,
		e.ID, e.AlertID, string(e.Kind), e.Actor, sqldb.FormatTime(e.Time), e.Comment, string(e.Data), e.PrevHash, e.Hash); err != nil {
		t.headKnown = false
		return fmt.Errorf("alert %d: add %s event: %w", e.AlertID, e.Kind, err)
	}
	t.nextID, t.lastHash = e.ID+1, e.Hash
	return nil
}

func encodeTags(tags []string) (string, error) {
	if len(tags) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(tags)
	return string(b), err
}
