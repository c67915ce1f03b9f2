package alert

import "context"

// Store keeps alerts, their records and their events. Service makes every
// decision; a Store only reads and writes rows, so that SQLite and a later
// PostgreSQL store implement the same small surface.
type Store interface {
	// InTx runs fn in one transaction, committing when fn returns nil and
	// rolling back otherwise. fn must not call the Store's other methods.
	InTx(ctx context.Context, fn func(Tx) error) error
	Get(ctx context.Context, id int64) (Alert, error) // ErrNotFound wrapped
	List(ctx context.Context, f Filter) ([]Alert, error)
	Records(ctx context.Context, alertID int64) ([]AlertRecord, error) // oldest first
	Events(ctx context.Context, alertID int64) ([]Event, error)        // oldest first
	// LabelCounts counts the resolved alerts per rule and resolution.
	LabelCounts(ctx context.Context) ([]LabelCount, error)
}

// Tx is the work of one transaction.
type Tx interface {
	// Get reads an alert for change; ErrNotFound wrapped.
	Get(ctx context.Context, id int64) (Alert, error)
	// Unresolved returns the alert with the fingerprint that is not resolved, if any.
	Unresolved(ctx context.Context, fingerprint string) (Alert, bool, error)
	// Insert stores a new alert and sets its ID and Version (1). It returns
	// ErrConflict when an unresolved alert with the fingerprint exists.
	Insert(ctx context.Context, a *Alert) error
	// Update writes the mutable fields (status, resolution, action, reason,
	// last record, count, first/last seen, updated at/by, ack, resolve,
	// comment, assignee, snooze, downgrade, escalation, handled version) if
	// the stored version is still a.Version, then bumps a.Version; otherwise
	// ErrConflict.
	Update(ctx context.Context, a *Alert) error
	// Repeat is Update narrowed to what a repeated hit changes (reason, last
	// record, count, first/last seen, updated at, which is also the time of
	// the latest hit): the hot path, which must not rewrite the status indexes.
	Repeat(ctx context.Context, a *Alert) error
	// AddRecord stores a record of the alert and sets its ID.
	AddRecord(ctx context.Context, r *AlertRecord) error
	// TrimRecords deletes all but the alert's latest keep records.
	TrimRecords(ctx context.Context, alertID int64, keep int) error
	// AddEvent appends an event to the audit chain and sets its ID,
	// PrevHash and Hash (ChainHash).
	AddEvent(ctx context.Context, e *Event) error
}
