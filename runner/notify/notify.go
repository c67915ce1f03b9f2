// Package notify delivers alerts to people and systems through a durable
// outbox. A Dispatcher tails the alert events (raised, resolved), writes one
// notification per receiver in the same transaction that advances its
// cursor, and sends them with retries, exponential backoff and full jitter.
// Nothing is lost or fanned out twice across crashes and restarts; a
// receiver sees a notification more than once only if a send was cut off
// mid-flight, and then with the same idempotency key.
//
// Each channel is a small subpackage behind one interface, Notifier (as in
// Prometheus Alertmanager): notify/webhook, notify/logchan. notify/receiver
// builds them from configuration.
package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// Kind says what a notification announces.
type Kind string

const (
	Firing   Kind = "firing"   // the alert was raised
	Resolved Kind = "resolved" // the alert was resolved
)

// Status is where a notification is in delivery.
type Status string

const (
	Pending   Status = "pending"   // waiting for its (next) attempt
	Delivered Status = "delivered" // the receiver accepted it
	Failed    Status = "failed"    // permanently refused, or out of attempts
)

func (s Status) valid() bool { return s == Pending || s == Delivered || s == Failed }

// Notification is one alert event for one receiver.
type Notification struct {
	ID             int64       `json:"id"`
	Receiver       string      `json:"receiver"`
	AlertID        int64       `json:"alert_id"`
	EventID        int64       `json:"event_id"`
	Kind           Kind        `json:"kind"`
	Alert          alert.Alert `json:"alert"`    // as it was right after the event
	Attempts       int         `json:"attempts"` // made so far, not counting the one in progress
	IdempotencyKey string      `json:"idempotency_key"`
	Status         Status      `json:"status"`
	NextAttempt    time.Time   `json:"next_attempt"`
	LastError      string      `json:"last_error,omitempty"`
	CreatedAt      time.Time   `json:"created_at"`
	UpdatedAt      time.Time   `json:"updated_at"`
	DeliveredAt    *time.Time  `json:"delivered_at,omitempty"`
}

// Notifier sends a notification through one channel. It reports whether a
// failure is worth retrying (a timeout, a 5xx) or permanent (a 4xx). The
// context carries the per-attempt timeout.
type Notifier interface {
	Notify(ctx context.Context, n *Notification) (retry bool, err error)
}

// Receiver is a named destination and the Notifier that reaches it.
type Receiver struct {
	Name     string
	Notifier Notifier
	Timeout  time.Duration // per attempt; 0 means Options.Timeout
}

// idempotencyKey is stable for one alert event and receiver, so a receiver
// can drop a notification it already has; it differs between receivers and
// between databases (the event time is part of it).
func idempotencyKey(receiver string, e alert.Event) string {
	h := sha256.New()
	for _, part := range []string{receiver, strconv.FormatInt(e.AlertID, 10), strconv.FormatInt(e.ID, 10), sqldb.FormatTime(e.Time)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
