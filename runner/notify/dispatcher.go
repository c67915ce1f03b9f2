package notify

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Component is the outbox's name in schema_migrations.
const Component = "notify"

// Options configure a Dispatcher; zero values take the defaults.
type Options struct {
	PollInterval time.Duration // how often to look for work without a Kick (default 1s)
	Timeout      time.Duration // per attempt, for receivers without their own (default 10s)
	Backoff      Backoff
	Batch        int              // alert events fanned out per transaction (default 100)
	Now          func() time.Time // wall clock (default time.Now)
	Rand         *rand.Rand       // jitter source (default: math/rand/v2's global one)
	Logger       *slog.Logger
}

// Dispatcher moves alert events into the outbox and delivers them. Create it
// with NewDispatcher, start Run once, call Kick after raising or resolving.
type Dispatcher struct {
	db        *sql.DB
	receivers []Receiver
	opts      Options
	log       *slog.Logger

	kick chan struct{}   // wakes the fan-out loop
	wake []chan struct{} // wakes each receiver's sender

	randMu sync.Mutex // *rand.Rand is not safe for concurrent use
}

// NewDispatcher migrates the outbox (and the alert tables it reads) in db,
// checks the receivers and options, and returns a Dispatcher ready to Run.
func NewDispatcher(ctx context.Context, db *sql.DB, receivers []Receiver, opts Options) (*Dispatcher, error) {
	if db == nil {
		return nil, errors.New("notify: database is nil")
	}
	seen := map[string]bool{}
	for i, r := range receivers {
		switch {
		case r.Name == "":
			return nil, fmt.Errorf("notify: receivers[%d]: name is required", i)
		case seen[r.Name]:
			return nil, fmt.Errorf("notify: receivers[%d] %q: name used twice", i, r.Name)
		case r.Notifier == nil:
			return nil, fmt.Errorf("notify: receivers[%d] %q: notifier is nil", i, r.Name)
		case r.Timeout < 0:
			return nil, fmt.Errorf("notify: receivers[%d] %q: timeout %s is negative", i, r.Name, r.Timeout)
		}
		seen[r.Name] = true
	}
	var err error
	if opts, err = opts.withDefaults(); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	if err := alertsqlite.Migrate(ctx, db); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	if err := sqldb.Migrate(ctx, db, Component, migrations); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	d := &Dispatcher{
		db:        db,
		receivers: make([]Receiver, len(receivers)),
		opts:      opts,
		log:       opts.Logger,
		kick:      make(chan struct{}, 1),
		wake:      make([]chan struct{}, len(receivers)),
	}
	for i, r := range receivers {
		if r.Timeout == 0 {
			r.Timeout = opts.Timeout
		}
		d.receivers[i] = r
		d.wake[i] = make(chan struct{}, 1)
	}
	if err := d.warnUnknownReceivers(ctx); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	return d, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.PollInterval < 0 || o.Timeout < 0 || o.Batch < 0 {
		return o, fmt.Errorf("poll interval %s, timeout %s and batch %d must not be negative", o.PollInterval, o.Timeout, o.Batch)
	}
	if o.PollInterval == 0 {
		o.PollInterval = time.Second
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Batch == 0 {
		o.Batch = 100
	}
	var err error
	if o.Backoff, err = o.Backoff.withDefaults(); err != nil {
		return o, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// Kick wakes the dispatcher to fan out new alert events now rather than at
// the next poll. It never blocks.
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run fans out and delivers until ctx ends: first whatever a previous run
// left, then new events as they come. It returns after every sender has
// finished its in-flight attempt and recorded the outcome. Call it once.
// Database errors are logged and retried at the next poll.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := range d.receivers {
		wg.Go(func() { d.sendLoop(ctx, i) })
	}
	d.fanOutLoop(ctx)
	wg.Wait()
	return nil
}

func (d *Dispatcher) fanOutLoop(ctx context.Context) {
	ticker := time.NewTicker(d.opts.PollInterval)
	defer ticker.Stop()
	for {
		n, err := d.FanOut(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Error("notify: fan-out failed; retrying at the next poll", "error", err)
		}
		if n > 0 {
			for _, w := range d.wake {
				select {
				case w <- struct{}{}:
				default:
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
		case <-ticker.C:
		}
	}
}

func (d *Dispatcher) sendLoop(ctx context.Context, i int) {
	r := &d.receivers[i]
	for {
		next, err := d.deliver(ctx, r)
		if err != nil && ctx.Err() == nil {
			d.log.Error("notify: delivery failed; retrying at the next poll", "receiver", r.Name, "error", err)
		}
		// Sleep until the next retry falls due, the poll interval at most.
		wait := d.opts.PollInterval
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(d.opts.Now()), time.Millisecond))
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-d.wake[i]:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// Deliver makes one pass over every receiver, sending each notification that
// is due, one receiver after another; it returns how many it attempted. Run
// does the same continuously, with one sender per receiver.
func (d *Dispatcher) Deliver(ctx context.Context) (int, error) {
	total := 0
	var errs []error
	for i := range d.receivers {
		n, err := d.deliverCount(ctx, &d.receivers[i])
		total += n
		errs = append(errs, err)
	}
	return total, errors.Join(errs...)
}

func (d *Dispatcher) deliver(ctx context.Context, r *Receiver) (time.Time, error) {
	if _, err := d.deliverCount(ctx, r); err != nil {
		return time.Time{}, err
	}
	return d.nextDue(ctx, r.Name)
}

// deliverCount sends r's due notifications one at a time until none is due
// or ctx ends; an attempt under way when ctx ends runs to its own timeout.
func (d *Dispatcher) deliverCount(ctx context.Context, r *Receiver) (int, error) {
	n := 0
	for ctx.Err() == nil {
		nt, ok, err := d.claim(ctx, r)
		if err != nil || !ok {
			return n, err
		}
		n++
		if err := d.attempt(ctx, r, nt); err != nil {
			return n, err
		}
	}
	return n, nil
}

// attempt sends one claimed notification and records the outcome.
func (d *Dispatcher) attempt(ctx context.Context, r *Receiver, n *Notification) error {
	// Neither the send nor its bookkeeping is cut short by shutdown.
	ctx = context.WithoutCancel(ctx)
	actx, cancel := context.WithTimeout(ctx, r.Timeout)
	retry, err := r.Notifier.Notify(actx, n)
	cancel()

	now := d.opts.Now().UTC()
	n.Attempts++
	n.UpdatedAt = now
	switch {
	case err == nil:
		n.Status, n.LastError, n.DeliveredAt = Delivered, "", &now
		d.log.Debug("notify: delivered", "receiver", r.Name, "notification", n.ID, "alert", n.AlertID,
			"kind", n.Kind, "attempts", n.Attempts)
	case retry && n.Attempts < d.opts.Backoff.MaxAttempts:
		n.LastError = err.Error()
		n.NextAttempt = now.Add(d.jitter(d.opts.Backoff.ceiling(n.Attempts)))
		d.log.Debug("notify: attempt failed; will retry", "receiver", r.Name, "notification", n.ID,
			"alert", n.AlertID, "attempts", n.Attempts, "next_attempt", n.NextAttempt, "error", err)
	default:
		n.Status, n.LastError = Failed, err.Error()
		why := "permanent failure"
		if retry {
			why = "out of attempts"
		}
		d.log.Error("notify: notification failed: "+why, "receiver", r.Name, "notification", n.ID,
			"alert", n.AlertID, "kind", n.Kind, "attempts", n.Attempts, "error", err)
	}
	return d.record(ctx, n)
}

// jitter returns a uniformly random duration in [0, ceiling].
func (d *Dispatcher) jitter(ceiling time.Duration) time.Duration {
	if d.opts.Rand == nil {
		return rand.N(ceiling + 1)
	}
	d.randMu.Lock()
	defer d.randMu.Unlock()
	return time.Duration(d.opts.Rand.Int64N(int64(ceiling) + 1))
}
