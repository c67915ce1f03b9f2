package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/sqldb"
)

// leaseSlack is added to the send timeout while a part is in flight: if the
// process dies mid-send, the part goes again after that long.
const leaseSlack = 10 * time.Second

// maxDigest bounds the messages merged into one digest (and held in
// memory at once); more wait for the next.
const maxDigest = 10_000

// head is a receiver's rendered message being sent, part by part. Only the
// receiver's sender changes it, so the sender keeps it between sends.
type head struct {
	id        int64
	key       string
	message   []byte // JSON: the Message, for a fallback's copy
	payloads  []Payload
	partsSent int
	attempts  int
	failures  int // in a row, of the current part
	next      time.Time
	lastError string
}

// deliver sends r's due parts until it must wait — for a retry's backoff,
// for the rate limit, or for work. It returns the sends made and when to
// look again (zero: when woken or at the next poll).
func (d *Dispatcher) deliver(ctx context.Context, r *receiverState) (sent int, next time.Time, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ctx.Err() == nil {
		now := d.opts.Now().UTC()
		h, err := d.current(ctx, r)
		if err != nil {
			return sent, time.Time{}, err
		}
		if h != nil {
			if h.failures > 0 && d.fallbackDue(r, now) {
				if err := d.finish(ctx, r, h, h.lastError, true, now); err != nil {
					r.head, r.headKnown = nil, false
					return sent, time.Time{}, err
				}
				continue
			}
			if h.next.After(now) {
				next := h.next
				if r.Fallback != "" && !r.failingSince.IsZero() && h.failures > 0 {
					next = minTime(next, r.failingSince.Add(r.FallbackAfter))
				}
				return sent, next, nil
			}
			if w := r.limiter.wait(now); w > 0 {
				return sent, now.Add(w), nil
			}
			if err := d.attempt(ctx, r, h, now); err != nil {
				r.head, r.headKnown = nil, false // read it again: the store has what counts
				return sent, time.Time{}, err
			}
			sent++
			continue
		}
		free := r.limiter.free(now)
		if free >= 1000 {
			free = 1000 // as good as no limit: one at a time, never a digest
		}
		waiting, err := d.waiting(ctx, r.Name, free+1)
		if err != nil || waiting == 0 {
			return sent, time.Time{}, err
		}
		if free == 0 {
			return sent, now.Add(r.limiter.wait(now)), nil
		}
		// Held back by the rate limit: all that waited go as one digest.
		take := 1
		if waiting > free {
			take = maxDigest
		}
		if err := d.claim(ctx, r, take, now); err != nil {
			return sent, time.Time{}, err
		}
	}
	return sent, time.Time{}, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// current returns r's message being sent, if any. Only r's sender makes
// heads, so after the first look the one it keeps is the truth.
func (d *Dispatcher) current(ctx context.Context, r *receiverState) (*head, error) {
	if r.head != nil || r.headKnown {
		return r.head, nil
	}
	h := &head{}
	var payloads []byte
	var next string
	err := d.db.QueryRowContext(ctx, `SELECT n.id, n.idempotency_key, b.message, b.payloads, n.parts_sent, n.attempts,
		n.failures, n.next_attempt_at, n.last_error
		FROM notifications n JOIN notification_bodies b ON b.id = n.id
		WHERE n.receiver = ? AND n.status = 'pending' AND n.rendered = 1 ORDER BY n.id LIMIT 1`, r.Name).Scan(
		&h.id, &h.key, &h.message, &payloads, &h.partsSent, &h.attempts, &h.failures, &next, &h.lastError)
	if errors.Is(err, sql.ErrNoRows) {
		r.headKnown = true
		return nil, nil
	}
	if err == nil {
		err = json.Unmarshal(payloads, &h.payloads)
	}
	if err == nil {
		h.next, err = sqldb.ParseTime(next)
	}
	if err != nil {
		return nil, fmt.Errorf("receiver %s: read the message being sent: %w", r.Name, err)
	}
	r.head, r.headKnown = h, true
	return h, nil
}

// waiting counts r's messages not yet rendered, up to limit: the count
// only decides whether more wait than may go.
func (d *Dispatcher) waiting(ctx context.Context, receiver string, limit int) (int, error) {
	var n int
	err := d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM notifications
		WHERE receiver = ? AND status = 'pending' AND rendered = 0 LIMIT ?)`, receiver, limit).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("receiver %s: count waiting messages: %w", receiver, err)
	}
	return n, nil
}

// claim renders r's oldest waiting message — or, when take > 1, a digest of
// the oldest take of them — into payloads, which makes it r's head.
func (d *Dispatcher) claim(ctx context.Context, r *receiverState, take int, now time.Time) error {
	rows, err := d.db.QueryContext(ctx, `SELECT n.id, b.message FROM notifications n JOIN notification_bodies b ON b.id = n.id
		WHERE n.receiver = ? AND n.status = 'pending' AND n.rendered = 0 ORDER BY n.id LIMIT ?`, r.Name, take)
	if err != nil {
		return fmt.Errorf("receiver %s: read waiting messages: %w", r.Name, err)
	}
	var ids []int64
	var msgs []*Message
	var raw []byte
	for rows.Next() {
		var id int64
		m := &Message{}
		if err := rows.Scan(&id, &raw); err != nil {
			rows.Close()
			return fmt.Errorf("receiver %s: read waiting messages: %w", r.Name, err)
		}
		if err := json.Unmarshal(raw, m); err != nil {
			rows.Close()
			return fmt.Errorf("receiver %s: message %d: %w", r.Name, id, err)
		}
		ids, msgs = append(ids, id), append(msgs, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(msgs) == 0 {
		return err
	}

	m := msgs[0]
	if len(msgs) > 1 {
		m = digest(r.Name, msgs)
	}
	payloads, rerr := r.Channel.Render(m)
	if rerr == nil && len(payloads) == 0 {
		rerr = errors.New("the channel rendered no payload")
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("receiver %s: claim: %w", r.Name, err)
	}
	defer tx.Rollback()
	id := ids[0]
	if len(msgs) > 1 {
		if id, err = insertMessage(ctx, tx, m, Pending, now); err != nil {
			return err
		}
		for chunk := range slices.Chunk(ids, 500) {
			args := []any{id, sqldb.FormatTime(now)}
			for _, mid := range chunk {
				args = append(args, mid)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE notifications SET status = 'merged', carried_by = ?, updated_at = ?
				WHERE id IN (?`+strings.Repeat(", ?", len(chunk)-1)+`)`, args...); err != nil {
				return fmt.Errorf("receiver %s: merge into digest %d: %w", r.Name, id, err)
			}
		}
	}
	if rerr != nil {
		rerr = fmt.Errorf("render: %w", rerr)
		if _, err := tx.ExecContext(ctx, `UPDATE notifications SET status = 'failed', last_error = ?, updated_at = ? WHERE id = ?`,
			rerr.Error(), sqldb.FormatTime(now), id); err != nil {
			return fmt.Errorf("receiver %s: fail message %d: %w", r.Name, id, err)
		}
	} else {
		body, err := json.Marshal(payloads)
		if err != nil {
			return fmt.Errorf("receiver %s: encode payloads: %w", r.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE notifications SET rendered = 1, parts = ?, next_attempt_at = ?, updated_at = ?
			WHERE id = ?`, len(payloads), sqldb.FormatTime(now), sqldb.FormatTime(now), id); err != nil {
			return fmt.Errorf("receiver %s: store payloads of message %d: %w", r.Name, id, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE notification_bodies SET payloads = ? WHERE id = ?`, string(body), id); err != nil {
			return fmt.Errorf("receiver %s: store payloads of message %d: %w", r.Name, id, err)
		}
		message, err := json.Marshal(m)
		if err != nil {
			return err
		}
		r.head = &head{id: id, key: m.IdempotencyKey, message: message, payloads: payloads, next: now}
	}
	if err := tx.Commit(); err != nil {
		r.head = nil
		return fmt.Errorf("receiver %s: claim: %w", r.Name, err)
	}
	if len(msgs) > 1 {
		d.metrics.notifications.WithLabelValues(r.Name, string(Merged)).Add(float64(len(msgs)))
		d.log.Info("notify: messages merged into a digest while the receiver was held back by its rate limit",
			"receiver", r.Name, "notification", id, "messages", m.Digest, "alerts", len(m.Alerts), "parts", len(payloads))
	}
	if rerr != nil {
		d.metrics.notifications.WithLabelValues(r.Name, string(Failed)).Inc()
		d.log.Error("notify: notification failed: it cannot be rendered", "receiver", r.Name, "notification", id, "error", rerr)
	}
	return nil
}

// attempt sends the head's next part and records the outcome.
func (d *Dispatcher) attempt(ctx context.Context, r *receiverState, h *head, now time.Time) error {
	// The send is counted (and the part leased) before it happens, so that
	// a crash mid-send can neither exceed the rate limit nor lose the part.
	r.limiter.record(now)
	lease := sqldb.FormatTime(now.Add(r.Timeout + leaseSlack))
	if r.limited() {
		tx, err := d.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("receiver %s: lease: %w", r.Name, err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE notifications SET next_attempt_at = ? WHERE id = ?`, lease, h.id)
		if err == nil {
			err = saveReceiver(ctx, tx, r, now)
		}
		if err == nil {
			err = tx.Commit()
		} else {
			tx.Rollback()
		}
		if err != nil {
			return fmt.Errorf("receiver %s: lease message %d: %w", r.Name, h.id, err)
		}
	} else if _, err := d.db.ExecContext(ctx, `UPDATE notifications SET next_attempt_at = ? WHERE id = ?`, lease, h.id); err != nil {
		return fmt.Errorf("receiver %s: lease message %d: %w", r.Name, h.id, err)
	}

	// Neither the send nor its bookkeeping is cut short by shutdown.
	ctx = context.WithoutCancel(ctx)
	sctx, cancel := context.WithTimeout(ctx, r.Timeout)
	part := h.payloads[h.partsSent]
	start := time.Now()
	retry, err := r.Channel.Send(sctx, part)
	cancel()
	d.metrics.sent(r.Name, time.Since(start), err, retry)

	now = d.opts.Now().UTC()
	h.attempts++
	if err == nil {
		h.partsSent++
		h.failures, h.lastError, h.next = 0, "", now
		r.failingSince = time.Time{}
		return d.finish(ctx, r, h, "", false, now)
	}
	h.failures++
	h.lastError = err.Error()
	if r.failingSince.IsZero() {
		r.failingSince = now
	}
	log := d.log.With("receiver", r.Name, "notification", h.id, "part", h.partsSent+1, "parts", len(h.payloads),
		"attempts", h.attempts, "error", err)
	switch {
	case d.fallbackDue(r, now), retry && r.Fallback != "" && h.failures >= d.opts.Backoff.MaxAttempts:
		return d.finish(ctx, r, h, h.lastError, true, now)
	case retry && h.failures < d.opts.Backoff.MaxAttempts:
		h.next = now.Add(max(d.jitter(d.opts.Backoff.ceiling(h.failures)), retryAfter(err)))
		log.Debug("notify: send failed; will retry", "next_attempt", h.next)
		return d.finish(ctx, r, h, "", false, now)
	default:
		why := "permanent failure"
		if retry {
			why = "out of attempts"
		}
		log.Error("notify: notification failed: " + why)
		return d.finish(ctx, r, h, h.lastError, false, now)
	}
}

// fallbackDue reports whether r has been failing long enough for its
// messages to go to its fallback.
func (d *Dispatcher) fallbackDue(r *receiverState, now time.Time) bool {
	return r.Fallback != "" && !r.failingSince.IsZero() && !now.Before(r.failingSince.Add(r.FallbackAfter))
}

// finish stores the head's state after a send, or its end: delivered when
// every part went, failed with cause (a dead letter), or rerouted to r's
// fallback when reroute is set.
func (d *Dispatcher) finish(ctx context.Context, r *receiverState, h *head, cause string, reroute bool, now time.Time) error {
	status := Pending
	switch {
	case reroute:
		status = Rerouted
	case cause != "":
		status = Failed
	case h.partsSent == len(h.payloads):
		status = Delivered
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("receiver %s: record message %d: %w", r.Name, h.id, err)
	}
	defer tx.Rollback()
	var carried any
	var fallback *receiverState
	if reroute {
		fallback = d.byName[r.Fallback]
		var m Message
		if err := json.Unmarshal(h.message, &m); err != nil {
			return fmt.Errorf("receiver %s: message %d: %w", r.Name, h.id, err)
		}
		m.Receiver, m.Locale = fallback.Name, fallback.Locale
		m.IdempotencyKey = key(fallback.Name, "fallback", h.key)
		id, err := insertMessage(ctx, tx, &m, Pending, now)
		if err != nil {
			return err
		}
		carried = id
		h.lastError = fmt.Sprintf("%s; receiver %s failing since %s, handed to fallback %s as notification %d",
			cause, r.Name, r.failingSince.Format(time.RFC3339), fallback.Name, id)
	}
	var delivered any
	if status == Delivered {
		delivered = sqldb.FormatTime(now)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE notifications SET status = ?, parts_sent = ?, attempts = ?, failures = ?,
		next_attempt_at = ?, last_error = ?, carried_by = COALESCE(?, carried_by), updated_at = ?, delivered_at = ? WHERE id = ?`,
		string(status), h.partsSent, h.attempts, h.failures, sqldb.FormatTime(h.next), h.lastError, carried,
		sqldb.FormatTime(now), delivered, h.id); err != nil {
		return fmt.Errorf("receiver %s: record message %d: %w", r.Name, h.id, err)
	}
	if r.limited() || !r.failingSince.Equal(r.savedFailingSince) {
		if err := saveReceiver(ctx, tx, r, now); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("receiver %s: record message %d: %w", r.Name, h.id, err)
	}
	r.savedFailingSince = r.failingSince
	if status != Pending {
		r.head = nil
		d.metrics.notifications.WithLabelValues(r.Name, string(status)).Inc()
	}
	switch status {
	case Delivered:
		d.log.LogAttrs(ctx, slog.LevelDebug, "notify: delivered", slog.String("receiver", r.Name),
			slog.Int64("notification", h.id), slog.Int("parts", len(h.payloads)), slog.Int("attempts", h.attempts))
	case Rerouted:
		d.log.Warn("notify: receiver keeps failing; its message goes to the fallback", "receiver", r.Name,
			"fallback", fallback.Name, "notification", h.id, "fallback_notification", carried, "error", cause)
		wake(fallback)
	}
	return nil
}
