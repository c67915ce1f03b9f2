package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

type scanner interface{ Scan(dest ...any) error }

func scanAlert(row scanner) (alert.Alert, error) {
	var a alert.Alert
	var severity, action, status, resolution, tags string
	var firstSeen, lastSeen, created, updated string
	var ackedAt, resolvedAt, snoozedUntil sql.NullString
	err := row.Scan(&a.ID, &a.Fingerprint, &a.Rule, &a.Title, &severity, &action, &a.Entity.Field, &a.Entity.Value,
		&status, &resolution, &a.Reason, &a.LastRecordID, &a.Count, &firstSeen, &lastSeen, &created, &updated,
		&a.PolicyRevision, &a.Owner, &a.Runbook, &tags, &a.AckedBy, &ackedAt, &a.ResolvedBy, &resolvedAt,
		&a.Comment, &a.Version,
		&a.Assignee, &snoozedUntil, &a.UpdatedBy, &a.Downgraded, &a.EscalationLevel, &a.Escalations, &a.HandledVersion)
	if err != nil {
		return alert.Alert{}, err
	}
	a.Severity, a.Action = decision.Severity(severity), decision.Action(action)
	a.Status, a.Resolution = alert.Status(status), alert.Resolution(resolution)
	for _, t := range []struct {
		dst *time.Time
		src string
	}{{&a.FirstSeen, firstSeen}, {&a.LastSeen, lastSeen}, {&a.CreatedAt, created}, {&a.UpdatedAt, updated}} {
		if *t.dst, err = sqldb.ParseTime(t.src); err != nil {
			return alert.Alert{}, fmt.Errorf("alert %d: %w", a.ID, err)
		}
	}
	if a.AckedAt, err = sqldb.ParseNullTime(ackedAt); err != nil {
		return alert.Alert{}, fmt.Errorf("alert %d: acked_at: %w", a.ID, err)
	}
	if a.ResolvedAt, err = sqldb.ParseNullTime(resolvedAt); err != nil {
		return alert.Alert{}, fmt.Errorf("alert %d: resolved_at: %w", a.ID, err)
	}
	if a.SnoozedUntil, err = sqldb.ParseNullTime(snoozedUntil); err != nil {
		return alert.Alert{}, fmt.Errorf("alert %d: snoozed_until: %w", a.ID, err)
	}
	if tags != "[]" && tags != "" {
		if err := json.Unmarshal([]byte(tags), &a.Tags); err != nil {
			return alert.Alert{}, fmt.Errorf("alert %d: tags: %w", a.ID, err)
		}
	}
	return a, nil
}

func scanEvents(rows *sql.Rows) ([]alert.Event, error) {
	defer rows.Close()
	var out []alert.Event
	for rows.Next() {
		var e alert.Event
		var kind, ts string
		var data []byte
		if err := scanEvent(rows, &e, &kind, &ts, &data); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// scanEvent reads one row of eventColumns into e; kind, ts and data are
// scratch space the caller may reuse.
func scanEvent(row scanner, e *alert.Event, kind, ts *string, data *[]byte) error {
	if err := row.Scan(&e.ID, &e.AlertID, kind, &e.Actor, ts, &e.Comment, data, &e.PrevHash, &e.Hash); err != nil {
		return err
	}
	e.Kind = alert.EventKind(*kind)
	e.Data = nil
	if len(*data) > 0 {
		e.Data = *data
	}
	var err error
	if e.Time, err = sqldb.ParseTime(*ts); err != nil {
		return fmt.Errorf("event %d: %w", e.ID, err)
	}
	return nil
}
