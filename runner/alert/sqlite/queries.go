package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

const alertColumns = `id, fingerprint, rule, title, severity, action, entity_field, entity_value, status, resolution,
	reason, last_record_id, count, first_seen, last_seen, created_at, updated_at,
	policy_revision, owner, runbook, tags, acked_by, acked_at, resolved_by, resolved_at, comment, version,
	assignee, snoozed_until, updated_by, downgraded, escalation_level, escalations, handled_version`

const eventColumns = `id, alert_id, kind, actor, ts, comment, data, prev_hash, hash`

const (
	qGetAlert = `SELECT ` + alertColumns + ` FROM alerts WHERE id = ?`

	// The condition matches the partial unique index alerts_unresolved_fingerprint.
	qUnresolved = `SELECT ` + alertColumns + ` FROM alerts WHERE fingerprint = ? AND status <> 'resolved'`

	qInsertAlert = `INSERT INTO alerts (
		fingerprint, rule, title, severity, action, entity_field, entity_value, status, resolution,
		reason, last_record_id, count, first_seen, last_seen, created_at, updated_at,
		policy_revision, owner, runbook, tags, acked_by, acked_at, resolved_by, resolved_at, comment, version,
		assignee, snoozed_until, updated_by, downgraded, escalation_level, escalations, handled_version, last_hit_at
	) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, 1, ?)`

	qUpdateAlert = `UPDATE alerts SET
		status = ?, resolution = ?, action = ?, reason = ?, last_record_id = ?, count = ?, first_seen = ?, last_seen = ?,
		updated_at = ?, acked_by = ?, acked_at = ?, resolved_by = ?, resolved_at = ?, comment = ?,
		assignee = ?, snoozed_until = ?, updated_by = ?, downgraded = ?, escalation_level = ?, escalations = ?,
		handled_version = ?, version = version + 1
		WHERE id = ? AND version = ?`

	// Only the columns a repeat changes, none of them indexed.
	qRepeatAlert = `UPDATE alerts SET
		reason = ?1, last_record_id = ?2, count = ?3, first_seen = ?4, last_seen = ?5, updated_at = ?6, last_hit_at = ?6,
		version = version + 1
		WHERE id = ?7 AND version = ?8`

	qInsertRecord = `INSERT INTO alert_records (alert_id, record_id, ts, fields, decision, added_at)
		VALUES (?, ?, ?, ?, ?, ?)`

	// Everything at or below the (keep+1)th newest record of the alert.
	qTrimRecords = `DELETE FROM alert_records WHERE alert_id = ?1 AND id <= (
		SELECT id FROM alert_records WHERE alert_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)`

	qInsertEvent = `INSERT INTO alert_events (id, alert_id, kind, actor, ts, comment, data, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

	// The chain's head: the newest event, and the highest ID ever handed out
	// (AUTOINCREMENT keeps it in sqlite_sequence even when rows go).
	qChainHead = `SELECT
		COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'alert_events'), 0),
		COALESCE((SELECT id FROM alert_events ORDER BY id DESC LIMIT 1), 0),
		COALESCE((SELECT hash FROM alert_events ORDER BY id DESC LIMIT 1), '')`

	qRecords = `SELECT id, alert_id, record_id, ts, fields, decision, added_at
		FROM alert_records WHERE alert_id = ? ORDER BY id`

	qEvents = `SELECT ` + eventColumns + ` FROM alert_events WHERE alert_id = ? ORDER BY id`

	// The condition matches the partial index alert_events_feed word for word,
	// which is what lets SQLite use it.
	qFeed = `SELECT ` + eventColumns + ` FROM alert_events
		WHERE kind IN ('raised', 'resolved', 'reopened', 'escalated', 'guard_tripped') AND id > ? ORDER BY id LIMIT ?`
)

// statements are the per-record queries, prepared once: preparing costs as
// much as running them.
type statements struct {
	getAlert, unresolved, insertAlert, updateAlert, repeatAlert, insertRecord, trimRecords, insertEvent, chainHead *sql.Stmt
}

func prepare(ctx context.Context, db *sql.DB) (*statements, error) {
	var s statements
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&s.getAlert, qGetAlert},
		{&s.unresolved, qUnresolved},
		{&s.insertAlert, qInsertAlert},
		{&s.updateAlert, qUpdateAlert},
		{&s.repeatAlert, qRepeatAlert},
		{&s.insertRecord, qInsertRecord},
		{&s.trimRecords, qTrimRecords},
		{&s.insertEvent, qInsertEvent},
		{&s.chainHead, qChainHead},
	} {
		st, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("prepare %q: %w", p.query, err)
		}
		*p.dst = st
	}
	return &s, nil
}

func (s *statements) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.getAlert, s.unresolved, s.insertAlert, s.updateAlert, s.repeatAlert, s.insertRecord, s.trimRecords, s.insertEvent, s.chainHead} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}
