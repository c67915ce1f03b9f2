package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/sqldb"
)

// Outbox reads the stored notifications: what the API and `vigil
// notifications` show. The Dispatcher embeds one.
type Outbox struct {
	db *sql.DB
}

// OpenOutbox migrates the outbox tables in db and returns a reader over them.
func OpenOutbox(ctx context.Context, db *sql.DB) (*Outbox, error) {
	if err := sqldb.Migrate(ctx, db, Component, migrations); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	return &Outbox{db: db}, nil
}

// Notification is one stored message: a group's notification, a digest of
// several, or a fallback's copy of another receiver's.
type Notification struct {
	ID             int64             `json:"id"`
	Receiver       string            `json:"receiver"`
	GroupKey       string            `json:"group_key"`
	GroupLabels    map[string]string `json:"group_labels,omitempty"`
	Kind           Kind              `json:"kind"` // firing if any of its alerts fires
	Status         Status            `json:"status"`
	Alerts         int               `json:"alerts"`          // how many alerts it carries
	Digest         int               `json:"digest"`          // how many group notifications it carries
	Parts          int               `json:"parts"`           // payloads it was rendered into (0 before)
	PartsSent      int               `json:"parts_sent"`      // payloads accepted so far
	Attempts       int               `json:"attempts"`        // sends made, retries included
	IdempotencyKey string            `json:"idempotency_key"` // the same on every retry, across restarts
	NextAttempt    time.Time         `json:"next_attempt"`
	LastError      string            `json:"last_error,omitempty"` // for a dead letter, the vendor's words
	CarriedBy      int64             `json:"carried_by,omitempty"` // merged: the digest; rerouted: the fallback's copy
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
	DeliveredAt    *time.Time        `json:"delivered_at,omitempty"`
	Message        *Message          `json:"message,omitempty"` // Get only: what it says
}

// Filter selects notifications for List; zero fields match everything.
type Filter struct {
	Status   Status
	Receiver string
	Limit    int   // 0 means 100; at most 1000
	Before   int64 // only notifications with a smaller ID: the next page's cursor
}

// List returns notifications matching f, newest first, without their messages.
func (o *Outbox) List(ctx context.Context, f Filter) ([]Notification, error) {
	if f.Status != "" && !f.Status.valid() {
		return nil, fmt.Errorf("list notifications: %w: status %q: want pending, delivered, failed, merged or rerouted", ErrInvalid, f.Status)
	}
	if f.Limit < 0 || f.Before < 0 {
		return nil, fmt.Errorf("list notifications: %w: limit and before must not be negative", ErrInvalid)
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	var where []string
	var args []any
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(f.Status))
	}
	if f.Receiver != "" {
		where, args = append(where, "receiver = ?"), append(args, f.Receiver)
	}
	if f.Before > 0 {
		where, args = append(where, "id < ?"), append(args, f.Before)
	}
	query := `SELECT ` + notificationColumns + `, group_labels FROM notifications`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	rows, err := o.db.QueryContext(ctx, query+` ORDER BY id DESC LIMIT ?`, append(args, min(f.Limit, 1000))...)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		var n Notification
		var labels []byte
		if err := scanNotification(rows, &n, &labels); err != nil {
			return nil, fmt.Errorf("list notifications: %w", err)
		}
		if err := json.Unmarshal(labels, &n.GroupLabels); err != nil {
			return nil, fmt.Errorf("list notifications: notification %d: group labels: %w", n.ID, err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	return out, nil
}

var (
	ErrNotFound = errors.New("not found") // no notification with that ID
	ErrInvalid  = errors.New("invalid")   // a request that can never succeed
)

// Get returns one notification with its message.
func (o *Outbox) Get(ctx context.Context, id int64) (Notification, error) {
	var n Notification
	var msg string
	err := scanNotification(o.db.QueryRowContext(ctx, `SELECT `+prefixed+`, b.message
		FROM notifications n JOIN notification_bodies b ON b.id = n.id WHERE n.id = ?`, id), &n, &msg)
	if errors.Is(err, sql.ErrNoRows) {
		return n, fmt.Errorf("notification %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return n, fmt.Errorf("notification %d: %w", id, err)
	}
	n.Message = &Message{}
	if err := json.Unmarshal([]byte(msg), n.Message); err != nil {
		return n, fmt.Errorf("notification %d: message: %w", id, err)
	}
	n.GroupLabels = n.Message.GroupLabels
	return n, nil
}

// Pending counts the notifications still to be delivered.
func (o *Outbox) Pending(ctx context.Context) (int, error) {
	var n int
	if err := o.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications WHERE status = 'pending'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count pending notifications: %w", err)
	}
	return n, nil
}

// pendingByReceiver counts the pending notifications of each receiver.
func (o *Outbox) pendingByReceiver(ctx context.Context) (map[string]int, error) {
	rows, err := o.db.QueryContext(ctx, `SELECT receiver, COUNT(*) FROM notifications WHERE status = 'pending' GROUP BY receiver`)
	if err != nil {
		return nil, fmt.Errorf("count pending notifications: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			return nil, fmt.Errorf("count pending notifications: %w", err)
		}
		out[name] = n
	}
	return out, rows.Err()
}

const notificationColumns = `id, receiver, group_key, kind, status, alerts, digest, parts, parts_sent, attempts,
	idempotency_key, next_attempt_at, last_error, carried_by, created_at, updated_at, delivered_at`

// prefixed is notificationColumns of the table aliased n.
var prefixed = "n." + strings.Join(strings.Split(strings.ReplaceAll(notificationColumns, "\n\t", " "), ", "), ", n.")

func scanNotification(row interface{ Scan(...any) error }, n *Notification, extra any) error {
	var kind, status, next, created, updated string
	var carried sql.NullInt64
	var delivered sql.NullString
	if err := row.Scan(&n.ID, &n.Receiver, &n.GroupKey, &kind, &status, &n.Alerts, &n.Digest, &n.Parts, &n.PartsSent,
		&n.Attempts, &n.IdempotencyKey, &next, &n.LastError, &carried, &created, &updated, &delivered, extra); err != nil {
		return err
	}
	n.Kind, n.Status, n.CarriedBy = Kind(kind), Status(status), carried.Int64
	var err error
	for _, t := range []struct {
		dst *time.Time
		src string
	}{{&n.NextAttempt, next}, {&n.CreatedAt, created}, {&n.UpdatedAt, updated}} {
		if *t.dst, err = sqldb.ParseTime(t.src); err != nil {
			return fmt.Errorf("notification %d: %w", n.ID, err)
		}
	}
	if n.DeliveredAt, err = sqldb.ParseNullTime(delivered); err != nil {
		return fmt.Errorf("notification %d: delivered_at: %w", n.ID, err)
	}
	return nil
}

// execer is a *sql.Tx or a *sql.DB.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// enqueue stores a new message, waiting for its receiver's sender.
func (d *Dispatcher) enqueue(ctx context.Context, tx execer, m *Message, now time.Time) error {
	_, err := insertMessage(ctx, tx, m, Pending, now)
	return err
}

func insertMessage(ctx context.Context, tx execer, m *Message, status Status, now time.Time) (int64, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return 0, fmt.Errorf("encode message for %s: %w", m.Receiver, err)
	}
	labels, err := json.Marshal(m.GroupLabels)
	if err != nil {
		return 0, fmt.Errorf("encode message for %s: %w", m.Receiver, err)
	}
	at := sqldb.FormatTime(now)
	res, err := tx.ExecContext(ctx, `INSERT INTO notifications (receiver, group_key, group_labels, kind, alerts, digest,
		idempotency_key, status, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.Receiver, m.GroupKey, string(labels), string(m.Status), len(m.Alerts), max(m.Digest, 1), m.IdempotencyKey,
		string(status), at, at, at)
	if err != nil {
		return 0, fmt.Errorf("store message for %s: %w", m.Receiver, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("store message for %s: %w", m.Receiver, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO notification_bodies (id, message) VALUES (?, ?)`, id, string(body)); err != nil {
		return 0, fmt.Errorf("store message for %s: %w", m.Receiver, err)
	}
	return id, nil
}

// loadReceivers restores each receiver's recent sends and failure streak.
func (d *Dispatcher) loadReceivers(ctx context.Context) error {
	rows, err := d.db.QueryContext(ctx, `SELECT name, sends, failing_since FROM notify_receivers`)
	if err != nil {
		return fmt.Errorf("load receivers: %w", err)
	}
	defer rows.Close()
	now := d.opts.Now()
	for rows.Next() {
		var name string
		var sends []byte
		var failing sql.NullString
		if err := rows.Scan(&name, &sends, &failing); err != nil {
			return fmt.Errorf("load receivers: %w", err)
		}
		r, ok := d.byName[name]
		if !ok {
			continue
		}
		var log []int64
		if err := json.Unmarshal(sends, &log); err != nil {
			return fmt.Errorf("load receiver %s: sends: %w", name, err)
		}
		r.limiter.restore(log, now)
		if failing.Valid {
			if r.failingSince, err = sqldb.ParseTime(failing.String); err != nil {
				return fmt.Errorf("load receiver %s: %w", name, err)
			}
			r.savedFailingSince = r.failingSince
		}
	}
	return rows.Err()
}

// saveReceiver stores r's recent sends and failure streak.
func saveReceiver(ctx context.Context, tx execer, r *receiverState, now time.Time) error {
	sends, err := json.Marshal(r.limiter.log(now))
	if err != nil {
		return err
	}
	var failing any
	if !r.failingSince.IsZero() {
		failing = sqldb.FormatTime(r.failingSince)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO notify_receivers (name, sends, failing_since, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET sends = excluded.sends, failing_since = excluded.failing_since, updated_at = excluded.updated_at`,
		r.Name, string(sends), failing, sqldb.FormatTime(now))
	if err != nil {
		return fmt.Errorf("receiver %s: store its sends: %w", r.Name, err)
	}
	return nil
}

// warnUnknownReceivers logs pending notifications left for receivers that
// are no longer configured. They stay pending, and go out if the receiver
// comes back.
func (d *Dispatcher) warnUnknownReceivers(ctx context.Context) error {
	pending, err := d.pendingByReceiver(ctx)
	if err != nil {
		return err
	}
	for name, n := range pending {
		if _, ok := d.byName[name]; !ok {
			d.log.Warn("notify: pending notifications for a receiver that is not configured; they wait until it is",
				"receiver", name, "pending", n)
		}
	}
	return nil
}
