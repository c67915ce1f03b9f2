package notify

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/notify/inhibit"
	"github.com/vigil-risk/vigil/runner/notify/route"
	"github.com/vigil-risk/vigil/runner/notify/silence"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Component is the outbox's name in schema_migrations.
const Component = "notify"

// DefaultTimers are the group timers of a tree built without configuration.
var DefaultTimers = route.Timers{GroupWait: 5 * time.Second, GroupInterval: time.Minute, RepeatInterval: 4 * time.Hour}

// DefaultFallbackAfter is how long a receiver with a fallback fails before
// its messages move on, when Receiver.FallbackAfter is zero.
const DefaultFallbackAfter = 10 * time.Minute

// Options configure a Dispatcher; zero values take the defaults.
type Options struct {
	// Route is the routing tree; nil sends everything to the first receiver,
	// grouped by alertname, with DefaultTimers.
	Route    *route.Route
	Inhibit  []inhibit.Rule
	Silences *silence.Service // nil: the dispatcher opens its own over the same database
	// Labels are added to every alert's labels (where the alert has none of
	// that name), as Prometheus' external labels: e.g. env.
	Labels   map[string]string
	LinkBase string // Message.LinkBase: the console's base URL

	PollInterval time.Duration // how often to look for work without a Kick (default 1s)
	Timeout      time.Duration // per send, for receivers without their own (default 10s)
	Backoff      Backoff
	Batch        int              // alert events routed, or groups flushed, per transaction (default 100)
	Now          func() time.Time // wall clock: group timers, backoff, rate limits (default time.Now)
	Rand         *rand.Rand       // jitter source (default: math/rand/v2's global one)
	Logger       *slog.Logger
	Registerer   prometheus.Registerer // for the metrics; nil: not registered
}

// Dispatcher routes alert events into groups, notifies the groups into the
// outbox and delivers the outbox. Create it with NewDispatcher, start Run
// once, call Kick after raising or resolving alerts; or drive it step by
// step with FanOut, Flush and Deliver (tools and tests).
type Dispatcher struct {
	*Outbox
	opts      Options
	log       *slog.Logger
	tree      *route.Route
	routes    map[string]*route.Route // by Key
	silences  *silence.Service
	receivers []*receiverState
	byName    map[string]*receiverState
	labels    alert.Labels
	metrics   *metrics

	kick   chan struct{}
	randMu sync.Mutex // *rand.Rand is not safe for concurrent use
}

// receiverState is a receiver and what its sender keeps between sends.
type receiverState struct {
	Receiver
	limits Limits
	wake   chan struct{}

	mu           sync.Mutex // one sender at a time (Run's, or Deliver's); guards the fields below
	limiter      limiter
	failingSince time.Time // zero while the last send succeeded
	head         *head     // the message being sent
	headKnown    bool      // head has been read from the outbox
	// savedFailingSince is failingSince as stored: a receiver without a
	// rate limit is stored only when it changes.
	savedFailingSince time.Time
}

// NewDispatcher migrates the outbox (and the alert and silence tables it
// reads), checks the receivers, the tree and the options, re-routes the
// groups of routes that no longer exist, and returns a Dispatcher ready to Run.
func NewDispatcher(ctx context.Context, db *sql.DB, receivers []Receiver, opts Options) (*Dispatcher, error) {
	if db == nil {
		return nil, errors.New("notify: database is nil")
	}
	var err error
	if opts, err = opts.withDefaults(); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	d := &Dispatcher{
		opts:   opts,
		log:    opts.Logger,
		tree:   opts.Route,
		routes: map[string]*route.Route{},
		byName: map[string]*receiverState{},
		labels: alert.Labels(opts.Labels),
		kick:   make(chan struct{}, 1),
	}
	if err := d.addReceivers(receivers); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	if d.tree == nil {
		if len(receivers) == 0 {
			return nil, errors.New("notify: no receivers and no route")
		}
		if d.tree, err = route.New(config.RouteConfig{GroupBy: []string{alert.LabelAlertname}}, DefaultTimers, []string{receivers[0].Name}); err != nil {
			return nil, fmt.Errorf("notify: %w", err)
		}
	}
	var routeErrs []error
	d.tree.Walk(func(r *route.Route) {
		d.routes[r.Key()] = r
		if _, ok := d.byName[r.Receiver]; !ok {
			routeErrs = append(routeErrs, fmt.Errorf("route %s: receiver %q is not configured", r.ID(), r.Receiver))
		}
	})
	if err := errors.Join(routeErrs...); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	if err := alertsqlite.Migrate(ctx, db); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	if err := sqldb.Migrate(ctx, db, Component, migrations); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	d.Outbox = &Outbox{db: db}
	if d.silences = opts.Silences; d.silences == nil {
		if d.silences, err = silence.New(ctx, db, silence.Options{Now: opts.Now, Logger: opts.Logger}); err != nil {
			return nil, fmt.Errorf("notify: %w", err)
		}
	}
	if d.metrics, err = newMetrics(opts.Registerer, d.Outbox); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	if err := d.loadReceivers(ctx); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	if err := d.reroute(ctx); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	if err := d.warnUnknownReceivers(ctx); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	return d, nil
}

func (d *Dispatcher) addReceivers(receivers []Receiver) error {
	for i, r := range receivers {
		switch _, dup := d.byName[r.Name]; {
		case r.Name == "":
			return fmt.Errorf("receivers[%d]: name is required", i)
		case dup:
			return fmt.Errorf("receivers[%d] %q: name used twice", i, r.Name)
		case r.Channel == nil:
			return fmt.Errorf("receivers[%d] %q: channel is nil", i, r.Name)
		case r.Timeout < 0 || r.FallbackAfter < 0:
			return fmt.Errorf("receivers[%d] %q: timeout %s and fallback_after %s must not be negative", i, r.Name, r.Timeout, r.FallbackAfter)
		}
		if r.Timeout == 0 {
			r.Timeout = d.opts.Timeout
		}
		if r.FallbackAfter == 0 {
			r.FallbackAfter = DefaultFallbackAfter
		}
		rs := &receiverState{Receiver: r, limits: r.Channel.Limits(), wake: make(chan struct{}, 1)}
		rs.limiter = limiter{perMinute: rs.limits.PerMinute, perSecond: rs.limits.PerSecond}
		d.receivers = append(d.receivers, rs)
		d.byName[r.Name] = rs
	}
	// A fallback must exist, and following fallbacks must never come back.
	for _, r := range d.receivers {
		seen := []string{r.Name}
		for next := r.Fallback; next != ""; next = d.byName[next].Fallback {
			if _, ok := d.byName[next]; !ok {
				return fmt.Errorf("receiver %q: fallback %q is not a configured receiver", seen[len(seen)-1], next)
			}
			if slices.Contains(seen, next) {
				return fmt.Errorf("receiver %q: fallbacks go round in a circle: %v", r.Name, append(seen, next))
			}
			seen = append(seen, next)
		}
	}
	return nil
}

// limited reports whether the receiver has a rate limit to keep.
func (r *receiverState) limited() bool { return r.limits.PerMinute > 0 || r.limits.PerSecond > 0 }

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

// Kick wakes the dispatcher to route new alert events now rather than at
// the next poll. It never blocks.
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Silences is the silence service the dispatcher mutes with.
func (d *Dispatcher) Silences() *silence.Service { return d.silences }

// Run routes, notifies and delivers until ctx ends: first whatever a previous
// run left, then new events as they come. It returns after every sender has
// finished its in-flight send and recorded the outcome. Call it once.
// Database errors are logged and retried at the next poll.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, r := range d.receivers {
		wg.Go(func() { d.sendLoop(ctx, r) })
	}
	d.dispatchLoop(ctx)
	wg.Wait()
	return nil
}

// dispatchLoop routes new events and flushes groups as their timers fall due.
func (d *Dispatcher) dispatchLoop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if _, err := d.FanOut(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("notify: routing alert events failed; retrying at the next poll", "error", err)
		}
		n, err := d.Flush(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Error("notify: flushing groups failed; retrying at the next poll", "error", err)
		}
		if n > 0 {
			d.wakeAll()
		}
		wait := d.opts.PollInterval
		if next, err := d.nextFlush(ctx); err == nil && !next.IsZero() {
			wait = min(wait, max(next.Sub(d.opts.Now()), time.Millisecond))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
		case <-timer.C:
		}
	}
}

func (d *Dispatcher) wakeAll() {
	for _, r := range d.receivers {
		wake(r)
	}
}

func wake(r *receiverState) {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (d *Dispatcher) sendLoop(ctx context.Context, r *receiverState) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		_, next, err := d.deliver(ctx, r)
		if err != nil && ctx.Err() == nil {
			d.log.Error("notify: delivery failed; retrying at the next poll", "receiver", r.Name, "error", err)
		}
		wait := d.opts.PollInterval
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(d.opts.Now()), time.Millisecond))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-timer.C:
		}
	}
}

// Deliver makes one pass over every receiver, sending whatever may go now,
// one receiver after another; it returns how many sends it made. Run does
// the same continuously, with one sender per receiver.
func (d *Dispatcher) Deliver(ctx context.Context) (int, error) {
	total := 0
	var errs []error
	for _, r := range d.receivers {
		n, _, err := d.deliver(ctx, r)
		total += n
		errs = append(errs, err)
	}
	return total, errors.Join(errs...)
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

// alertLabels is the alert's label set with the dispatcher's own added.
func (d *Dispatcher) alertLabels(a *alert.Alert) alert.Labels {
	l := a.Labels()
	for k, v := range d.labels {
		if _, ok := l[k]; !ok && v != "" {
			l[k] = v
		}
	}
	return l
}
