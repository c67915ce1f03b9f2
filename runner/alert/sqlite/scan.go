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
	var ackedAt, resolvedAt sql.NullString
	err := row.Scan(&a.ID, &a.Fingerprint, &a.Rule, &a.Title, &severity, &action, &a.Entity.Field, &a.Entity.Value,
		&status, &resolution, &a.Reason, &a.LastRecordID, &a.Count, &firstSeen, &lastSeen, &created, &updated,
		&a.PolicyRevision, &a.Owner, &a.Runbook, &tags, &a.AckedBy, &ackedAt, &a.ResolvedBy, &resolvedAt,
		&a.Comment, &a.Version)
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
		if err := rows.Scan(&e.ID, &e.AlertID, &kind, &e.Actor, &ts, &e.Comment, &data); err != nil {
			return nil, err
		}
		e.Kind = alert.EventKind(kind)
		if len(data) > 0 {
			e.Data = data
		}
		var err error
		if e.Time, err = sqldb.ParseTime(ts); err != nil {
			return nil, fmt.Errorf("event %d: %w", e.ID, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
