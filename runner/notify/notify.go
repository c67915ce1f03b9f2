// Package notify delivers alerts to people and systems as Prometheus
// Alertmanager does — a routing tree, groups with group_wait,
// group_interval and repeat_interval, silences and inhibition — through a
// durable outbox in the runner's SQLite database.
//
// The Dispatcher tails the alert events (raised, resolved) and routes each
// alert into its groups (notify/route) in the transaction that advances its
// cursor. When a group's timer falls due, the alerts neither silenced
// (notify/silence) nor inhibited (notify/inhibit) are compared with what the
// group last said, and a Message goes into the outbox if something changed
// or the repeat interval passed. Each receiver's sender sends its messages in
// order within the vendor's rate limit (Channel.Limits): what waited while
// the receiver was held back goes out merged into one digest, rendered then
// and split by the channel into parts, each part one send. Retryable
// failures back off with full jitter; a permanent one is a dead letter
// (status failed, the vendor's words kept); a receiver failing for longer
// than its FallbackAfter hands its messages to its Fallback. Nothing is lost
// across crashes: a part is sent again only if the process died mid-send,
// and then with the same idempotency key.
//
// Each channel is a subpackage behind one interface, Channel (channel.go).
package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"
)

// Kind says what a message announces: any firing alert makes it Firing.
type Kind string

const (
	Firing   Kind = "firing"
	Resolved Kind = "resolved"
)

// Status is where a notification is in delivery.
type Status string

const (
	Pending   Status = "pending"   // waiting for its (next) send
	Delivered Status = "delivered" // every part accepted
	Failed    Status = "failed"    // a dead letter: refused for good, or out of attempts
	Merged    Status = "merged"    // carried on by a digest (see Notification.CarriedBy)
	Rerouted  Status = "rerouted"  // its receiver kept failing: carried on by the fallback receiver's copy
)

func (s Status) valid() bool {
	switch s {
	case Pending, Delivered, Failed, Merged, Rerouted:
		return true
	}
	return false
}

// Receiver is a named destination: its channel, and how the dispatcher
// treats it.
type Receiver struct {
	Name         string
	Channel      Channel
	Timeout      time.Duration // per send; 0 means Options.Timeout
	SendResolved bool          // also notify alerts that resolved
	Locale       string        // Message.Locale: "zh" or "en"
	// Fallback takes over this receiver's messages once it has been failing
	// (no send accepted) for FallbackAfter.
	Fallback      string
	FallbackAfter time.Duration
}

// RetryAfterError is a retryable Send error that says how long the vendor
// wants the sender to wait (an HTTP Retry-After, DingTalk's ban after too
// many messages); the dispatcher waits at least that long. Channels may
// return any error with a RetryAfter() time.Duration method.
type RetryAfterError struct {
	Err   error
	After time.Duration
}

func (e *RetryAfterError) Error() string             { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error             { return e.Err }
func (e *RetryAfterError) RetryAfter() time.Duration { return e.After }

// retryAfter is the wait a Send error asks for, or 0.
func retryAfter(err error) time.Duration {
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		return max(ra.RetryAfter(), 0)
	}
	return 0
}

// key derives an idempotency key: stable for the same parts, across retries
// and restarts, and different for anything else.
func key(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
