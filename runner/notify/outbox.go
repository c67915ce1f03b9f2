package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// cursorName is the dispatcher's row in notify_cursor.
const cursorName = "alert_events"

// leaseSlack is added to the attempt timeout while a notification is
// claimed: if the process dies mid-send, it is retried after that long.
const leaseSlack = 10 * time.Second

// FanOut turns every alert event after the cursor into one pending
// notification per receiver, a batch per transaction that also advances the
// cursor. It returns how many notifications it created. Run calls it; it is
// exported for tools and tests.
func (d *Dispatcher) FanOut(ctx context.Context) (int, error) {
	total := 0
	for {
		n, more, err := d.fanOutBatch(ctx)
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

func (d *Dispatcher) fanOutBatch(ctx context.Context) (created int, more bool, err error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, fmt.Errorf("fan-out: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var cursor int64
	err = tx.QueryRowContext(ctx, `SELECT event_id FROM notify_cursor WHERE name = ?`, cursorName).Scan(&cursor)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, false, fmt.Errorf("fan-out: read cursor: %w", err)
	}
	events, err := alertsqlite.Feed(ctx, tx, cursor, d.opts.Batch)
	if err != nil {
		return 0, false, fmt.Errorf("fan-out: %w", err)
	}
	if len(events) == 0 {
		return 0, false, tx.Rollback()
	}
	now := sqldb.FormatTime(d.opts.Now())
	for _, e := range events {
		kind := Firing
		if e.Kind == alert.EventResolved {
			kind = Resolved
		}
		for _, r := range d.receivers {
			res, err := tx.ExecContext(ctx, `INSERT INTO notifications
				(receiver, event_id, alert_id, kind, alert, idempotency_key, status, attempts, next_attempt_at, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)
				ON CONFLICT (event_id, receiver) DO NOTHING`,
				r.Name, e.ID, e.AlertID, string(kind), string(e.Data), idempotencyKey(r.Name, e), now, now, now)
			if err != nil {
				return 0, false, fmt.Errorf("fan-out: event %d to receiver %s: %w", e.ID, r.Name, err)
			}
			n, _ := res.RowsAffected()
			created += int(n)
		}
	}
	last := events[len(events)-1].ID
	if _, err = tx.ExecContext(ctx, `INSERT INTO notify_cursor (name, event_id, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET event_id = excluded.event_id, updated_at = excluded.updated_at`,
		cursorName, last, now); err != nil {
		return 0, false, fmt.Errorf("fan-out: move cursor to %d: %w", last, err)
	}
	if err = tx.Commit(); err != nil {
		return 0, false, fmt.Errorf("fan-out: commit: %w", err)
	}
	return created, len(events) == d.opts.Batch, nil
}

// dueCondition selects r's pending notifications that may go now: due, and
// not queued behind an older pending one of the same alert, so that a
// receiver never hears "resolved" before "firing".
const dueCondition = `n.receiver = ? AND n.status = 'pending' AND NOT EXISTS (
	SELECT 1 FROM notifications p
	WHERE p.alert_id = n.alert_id AND p.receiver = n.receiver AND p.status = 'pending' AND p.id < n.id)`

// claim takes r's next due notification and leases it (moves its next
// attempt past the attempt's timeout), so that no other sender takes it.
func (d *Dispatcher) claim(ctx context.Context, r *Receiver) (*Notification, bool, error) {
	now := d.opts.Now().UTC()
	lease := now.Add(r.Timeout + leaseSlack)
	row := d.db.QueryRowContext(ctx, `UPDATE notifications SET next_attempt_at = ?
		WHERE id = (SELECT n.id FROM notifications n WHERE `+dueCondition+` AND n.next_attempt_at <= ?
			ORDER BY n.next_attempt_at, n.id LIMIT 1)
		RETURNING `+notificationColumns,
		sqldb.FormatTime(lease), r.Name, sqldb.FormatTime(now))
	n, snapshot, err := scanNotification(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("receiver %s: claim: %w", r.Name, err)
	}
	if err := json.Unmarshal(snapshot, &n.Alert); err != nil {
		// Unsendable: fail it rather than claim it again forever.
		n.Attempts, n.Status, n.UpdatedAt = n.Attempts+1, Failed, now
		n.LastError = fmt.Sprintf("alert snapshot of event %d: %v", n.EventID, err)
		d.log.Error("notify: notification failed: permanent failure", "receiver", r.Name, "notification", n.ID,
			"alert", n.AlertID, "error", n.LastError)
		if err := d.record(ctx, n); err != nil {
			return nil, false, err
		}
		return d.claim(ctx, r)
	}
	return n, true, nil
}

// record stores the outcome of an attempt.
func (d *Dispatcher) record(ctx context.Context, n *Notification) error {
	_, err := d.db.ExecContext(ctx, `UPDATE notifications
		SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, updated_at = ?, delivered_at = ?
		WHERE id = ?`,
		string(n.Status), n.Attempts, sqldb.FormatTime(n.NextAttempt), n.LastError, sqldb.FormatTime(n.UpdatedAt),
		sqldb.NullTime(n.DeliveredAt), n.ID)
	if err != nil {
		return fmt.Errorf("receiver %s: record notification %d: %w", n.Receiver, n.ID, err)
	}
	return nil
}

// nextDue is when r's next notification falls due; zero if none waits.
func (d *Dispatcher) nextDue(ctx context.Context, receiver string) (time.Time, error) {
	var next sql.NullString
	err := d.db.QueryRowContext(ctx, `SELECT MIN(n.next_attempt_at) FROM notifications n WHERE `+dueCondition, receiver).Scan(&next)
	if err != nil || !next.Valid {
		return time.Time{}, err
	}
	return sqldb.ParseTime(next.String)
}

// warnUnknownReceivers logs pending notifications left for receivers that
// are no longer configured. They stay pending, and go out if the receiver
// comes back.
func (d *Dispatcher) warnUnknownReceivers(ctx context.Context) error {
	rows, err := d.db.QueryContext(ctx, `SELECT receiver, COUNT(*) FROM notifications WHERE status = 'pending' GROUP BY receiver`)
	if err != nil {
		return fmt.Errorf("count pending notifications: %w", err)
	}
	defer rows.Close()
	known := map[string]bool{}
	for _, r := range d.receivers {
		known[r.Name] = true
	}
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			return fmt.Errorf("count pending notifications: %w", err)
		}
		if !known[name] {
			d.log.Warn("notify: pending notifications for a receiver that is not configured; they wait until it is",
				"receiver", name, "pending", n)
		}
	}
	return rows.Err()
}

// Filter selects notifications for List; zero fields match everything.
type Filter struct {
	Status   Status
	Receiver string
	AlertID  int64
	Limit    int   // 0 means 100; at most 1000
	Before   int64 // only notifications with a smaller ID: the next page's cursor
}

// List returns notifications matching f, newest first.
func (d *Dispatcher) List(ctx context.Context, f Filter) ([]Notification, error) {
	if f.Status != "" && !f.Status.valid() {
		return nil, fmt.Errorf("list notifications: status %q: want pending, delivered or failed", f.Status)
	}
	if f.Limit < 0 || f.Before < 0 || f.AlertID < 0 {
		return nil, errors.New("list notifications: limit, before and alert id must not be negative")
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 1000)
	var where []string
	var args []any
	if f.Status != "" {
		where, args = append(where, "n.status = ?"), append(args, string(f.Status))
	}
	if f.Receiver != "" {
		where, args = append(where, "n.receiver = ?"), append(args, f.Receiver)
	}
	if f.AlertID > 0 {
		where, args = append(where, "n.alert_id = ?"), append(args, f.AlertID)
	}
	if f.Before > 0 {
		where, args = append(where, "n.id < ?"), append(args, f.Before)
	}
	query := `SELECT ` + notificationColumns + ` FROM notifications n`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY n.id DESC LIMIT ?`
	rows, err := d.db.QueryContext(ctx, query, append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		n, snapshot, err := scanNotification(rows)
		if err != nil {
			return nil, fmt.Errorf("list notifications: %w", err)
		}
		// One unreadable snapshot must not hide the rest; claim fails that
		// notification with the reason.
		if json.Unmarshal(snapshot, &n.Alert) != nil {
			n.Alert = alert.Alert{ID: n.AlertID}
		}
		out = append(out, *n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	return out, nil
}

// Pending counts the notifications still to be delivered.
func (d *Dispatcher) Pending(ctx context.Context) (int, error) {
	var n int
	if err := d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications WHERE status = 'pending'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count pending notifications: %w", err)
	}
	return n, nil
}

const notificationColumns = `id, receiver, event_id, alert_id, kind, alert, idempotency_key, status, attempts,
	next_attempt_at, last_error, created_at, updated_at, delivered_at`

// scanNotification reads a row but for the alert, which it returns as JSON.
func scanNotification(row interface{ Scan(...any) error }) (*Notification, []byte, error) {
	var n Notification
	var kind, status, next, created, updated string
	var snapshot []byte
	var delivered sql.NullString
	if err := row.Scan(&n.ID, &n.Receiver, &n.EventID, &n.AlertID, &kind, &snapshot, &n.IdempotencyKey, &status,
		&n.Attempts, &next, &n.LastError, &created, &updated, &delivered); err != nil {
		return nil, nil, err
	}
	n.Kind, n.Status = Kind(kind), Status(status)
	var err error
	for _, t := range []struct {
		dst *time.Time
		src string
	}{{&n.NextAttempt, next}, {&n.CreatedAt, created}, {&n.UpdatedAt, updated}} {
		if *t.dst, err = sqldb.ParseTime(t.src); err != nil {
			return nil, nil, fmt.Errorf("notification %d: %w", n.ID, err)
		}
	}
	if n.DeliveredAt, err = sqldb.ParseNullTime(delivered); err != nil {
		return nil, nil, fmt.Errorf("notification %d: delivered_at: %w", n.ID, err)
	}
	return &n, snapshot, nil
}
