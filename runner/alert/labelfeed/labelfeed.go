// Package labelfeed gives the features the labels analysts make: it tails
// the audit trail's resolved events (alertsqlite.Consume) and hands each
// true or false positive's label record (alert.LabelRecord) to the
// pipeline. Tailing the store rather than hooking the alert service means a
// resolution made by any process sharing the SQLite file — `vigil alerts
// resolve` included — reaches the running runner, and one made while it was
// down is applied when it starts.
//
// Delivery is at least once: the label is applied inside the transaction
// that moves the cursor, so a crash before the commit repeats it, and the
// features ignore the repeat by its record id (label:alert:<id>). A reopen
// takes nothing back: a label already applied stays, as a label record from
// a source would; a later resolution of the same alert has the same id and
// is a duplicate the features ignore.
package labelfeed

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/record"
)

// Component is the feeder's cursor name in alert_cursors.
const Component = "labels"

// batch bounds the events one Consume transaction handles.
const batch = 200

// kinds are the events that carry a label: only resolutions (a reopen
// withdraws nothing, see the package comment).
var kinds = []alert.EventKind{alert.EventResolved}

// Options configure a Feeder.
type Options struct {
	// Apply hands a label record to the features (its fields are as stored:
	// normalise them). It must not use the store: it runs inside the
	// cursor's transaction, which holds the pool's one connection. A label
	// it cannot apply is its to log; the feeder moves on.
	Apply func(ctx context.Context, label record.Record)
	// Interval is how often Run looks for new resolutions (default 10s);
	// Kick wakes it sooner.
	Interval time.Duration
	Logger   *slog.Logger
}

// Feeder tails resolutions into the features.
type Feeder struct {
	db       *sql.DB
	apply    func(context.Context, record.Record)
	interval time.Duration
	log      *slog.Logger
	wake     chan struct{}
}

// New migrates the alert tables in db if needed and places the feeder's
// cursor after the newest event unless it has one, so that every
// resolution from now on — even those made while the runner is down — is
// applied once, and the history before the first start is not.
func New(ctx context.Context, db *sql.DB, opts Options) (*Feeder, error) {
	if db == nil || opts.Apply == nil {
		return nil, errors.New("label feed: database and apply are required")
	}
	if err := alertsqlite.Migrate(ctx, db); err != nil {
		return nil, fmt.Errorf("label feed: %w", err)
	}
	if err := alertsqlite.StartCursor(ctx, db, Component); err != nil {
		return nil, fmt.Errorf("label feed: %w", err)
	}
	f := &Feeder{db: db, apply: opts.Apply, interval: opts.Interval, log: opts.Logger, wake: make(chan struct{}, 1)}
	if f.interval <= 0 {
		f.interval = 10 * time.Second
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	return f, nil
}

// Kick makes Run look now rather than at its next interval: call it after
// a resolution, so that an analyst's label applies within milliseconds.
func (f *Feeder) Kick() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Run ticks until ctx ends. Errors are logged and retried at the next tick.
func (f *Feeder) Run(ctx context.Context) error {
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		if _, err := f.Tick(ctx); err != nil && ctx.Err() == nil {
			f.log.Error("label feed failed; retrying at the next tick", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-f.wake:
		}
	}
}

// Tick applies the labels of the resolutions since the cursor and returns
// how many label records it handed to Apply.
func (f *Feeder) Tick(ctx context.Context) (int, error) {
	total := 0
	for {
		var n int
		_, more, err := alertsqlite.Consume(ctx, f.db, Component, kinds, batch,
			func(tx *sql.Tx, events []alert.Event) error {
				var err error
				n, err = f.feed(ctx, tx, events)
				return err
			})
		if err != nil {
			return total, err
		}
		total += n
		if !more {
			return total, nil
		}
	}
}

// feed applies the label of each resolution in events. Only a failed read
// of the store is an error (the batch is then retried, its labels repeated
// and ignored as duplicates).
func (f *Feeder) feed(ctx context.Context, tx *sql.Tx, events []alert.Event) (int, error) {
	n := 0
	for _, ev := range events {
		var a alert.Alert // as resolved, whatever happened to it since
		if err := json.Unmarshal(ev.Data, &a); err != nil {
			f.log.Error("label feed: a resolved event without a readable alert; no label", "event", ev.ID, "alert", ev.AlertID, "err", err)
			continue
		}
		if a.Resolution != alert.TruePositive && a.Resolution != alert.FalsePositive {
			continue // the features learn from analysts' true and false positives only
		}
		recs, err := alertsqlite.RecordsOf(ctx, tx, a.ID)
		if err != nil {
			return n, err
		}
		var last *alert.AlertRecord // none only weakens the label: the entity is still in it
		if len(recs) > 0 {
			last = &recs[len(recs)-1]
		}
		at := ev.Time
		if a.ResolvedAt != nil {
			at = *a.ResolvedAt
		}
		if rec, ok := alert.LabelRecord(&a, last, at); ok {
			f.apply(ctx, rec)
			n++
		}
	}
	return n, nil
}
