// Package action carries out auto-actions: when an alert is raised whose
// rule names an action (metadata custom.auto_action) or that an action route
// matches, it calls the action's endpoint — a signed JSON POST with an
// Idempotency-Key — retries it with backoff, and records the outcome on the
// alert (an auto_action event).
//
// Every call is written to the runner's SQLite database in the transaction
// that reads the alert's raised event (through its own cursor, like the
// escalator), before it is made: a restart resumes pending calls, and a call
// repeated after a crash carries the same Idempotency-Key.
//
// The blast-radius guard allows at most Limit calls per rule per Interval,
// counted when scheduled. The alert that would exceed it trips the guard:
// the rule's auto-actions stop, its alerts are downgraded to review, and the
// guard's receivers are told once (a guard_tripped notice). ResetAfter, or
// Reset by hand, re-arms it. See docs/handling.md.
package action

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Component is the auto-actions' name in schema_migrations, and their
// cursor over the alert events.
const Component = "action"

// EventGuardReset is the event, on the alert that tripped a guard, that
// records its re-arming: by hand (who, why) or after reset_after.
const EventGuardReset alert.EventKind = "guard_reset"

// batch is how many events, calls or outcomes one round takes.
const batch = 200

// Call states (alert_actions.state).
const (
	statePending    = "pending"
	stateSucceeded  = "succeeded"
	stateFailed     = "failed"
	stateSuppressed = "suppressed"
	stateSkipped    = "skipped"
)

// Options configure an Executor; zero values take the defaults.
type Options struct {
	Config config.AutoActionsConfig // checked by config
	// Secrets maps an endpoint's name to its signing secret, resolved by the
	// caller (secret_env, secret_file); an endpoint without one is unsigned.
	Secrets map[string]string
	// RuleAction returns the auto_action a rule's metadata names, "" for none.
	RuleAction func(rule string) string
	Client     *http.Client     // default: http.Client with no overall timeout (each endpoint has its own)
	Now        func() time.Time // wall clock (default time.Now)
	Interval   time.Duration    // how often Run ticks (default 10s)
	// Jitter returns a wait in [0, ceiling] (default: uniform, "full jitter").
	Jitter     func(ceiling time.Duration) time.Duration
	Parallel   int // calls in flight at once (default 4)
	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: no metrics
}

// Executor schedules, makes and records auto-action calls. Create it with
// New; start Run once, or drive it with Tick.
type Executor struct {
	db         *sql.DB
	svc        *alert.Service
	cfg        config.AutoActionsConfig
	endpoints  map[string]config.ActionEndpoint
	secrets    map[string]string
	ruleAction func(string) string
	client     *http.Client
	now        func() time.Time
	interval   time.Duration
	jitter     func(time.Duration) time.Duration
	parallel   int
	log        *slog.Logger
	wake       chan struct{}

	calls      *prometheus.CounterVec // rule, action, outcome: each attempt's outcome
	suppressed *prometheus.CounterVec // rule: alerts whose action the guard stopped
	trips      *prometheus.CounterVec // rule
}

// New migrates the calls' and guards' tables (and the alert tables they
// refer to) in db, the database svc's store uses, and returns an Executor.
func New(ctx context.Context, db *sql.DB, svc *alert.Service, opts Options) (*Executor, error) {
	if db == nil || svc == nil {
		return nil, errors.New("auto-actions: database and alert service are required")
	}
	c := opts.Config
	if c.Guard.Limit < 1 || c.Guard.Interval <= 0 || c.MaxAttempts < 1 || c.BackoffBase <= 0 || c.BackoffMax < c.BackoffBase {
		return nil, fmt.Errorf("auto-actions: guard limit %d, interval %s, max attempts %d, backoff %s..%s: want positive values (see config.validateHandling)",
			c.Guard.Limit, c.Guard.Interval, c.MaxAttempts, c.BackoffBase, c.BackoffMax)
	}
	if err := alertsqlite.Migrate(ctx, db); err != nil {
		return nil, fmt.Errorf("auto-actions: %w", err)
	}
	if err := sqldb.Migrate(ctx, db, Component, migrations); err != nil {
		return nil, fmt.Errorf("auto-actions: %w", err)
	}
	if err := alertsqlite.StartCursor(ctx, db, Component); err != nil {
		return nil, fmt.Errorf("auto-actions: %w", err)
	}
	x := &Executor{db: db, svc: svc, cfg: c, endpoints: map[string]config.ActionEndpoint{}, secrets: opts.Secrets,
		ruleAction: opts.RuleAction, client: opts.Client, now: opts.Now, interval: opts.Interval, jitter: opts.Jitter,
		parallel: opts.Parallel, log: opts.Logger, wake: make(chan struct{}, 1)}
	for _, e := range c.Endpoints {
		x.endpoints[e.Name] = e
	}
	if x.client == nil {
		x.client = &http.Client{}
	}
	if x.now == nil {
		x.now = time.Now
	}
	if x.interval <= 0 {
		x.interval = 10 * time.Second
	}
	if x.jitter == nil {
		x.jitter = func(d time.Duration) time.Duration { return rand.N(d + 1) }
	}
	if x.parallel <= 0 {
		x.parallel = 4
	}
	if x.log == nil {
		x.log = slog.New(slog.DiscardHandler)
	}
	x.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_alert_action_calls_total",
		Help: "Auto-action call attempts, by rule, action and outcome (succeeded, failed: final, retry: will be tried again).",
	}, []string{"rule", "action", "outcome"})
	x.suppressed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_alert_actions_suppressed_total",
		Help: "Auto-actions the blast-radius guard stopped (their alerts downgraded to review), by rule.",
	}, []string{"rule"})
	x.trips = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_alert_action_guard_trips_total", Help: "Blast-radius guard trips, by rule.",
	}, []string{"rule"})
	if opts.Registerer != nil {
		for _, col := range []prometheus.Collector{x.calls, x.suppressed, x.trips} {
			if err := opts.Registerer.Register(col); err != nil {
				return nil, fmt.Errorf("auto-actions: register metrics: %w", err)
			}
		}
	}
	return x, nil
}

// Kick makes Run tick now rather than at its next interval: call it when an
// alert was raised, so that an action does not wait for the ticker.
func (x *Executor) Kick() {
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

// Run ticks until ctx ends. Errors are logged and retried at the next tick.
func (x *Executor) Run(ctx context.Context) error {
	t := time.NewTicker(x.interval)
	defer t.Stop()
	for {
		if _, err := x.Tick(ctx); err != nil && ctx.Err() == nil {
			x.log.Error("auto-actions failed; retrying at the next tick", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-x.wake:
		}
	}
}

// Stats is what one Tick did.
type Stats struct {
	Scheduled  int // calls scheduled for new alerts
	Suppressed int // alerts the guard stopped
	Attempts   int // HTTP requests made
	Succeeded  int
	Failed     int // given up: a 4xx, or max_attempts reached
	Settled    int // outcomes recorded on alerts (notes and downgrades)
	Rearmed    int // guards re-armed by reset_after
}

// Tick re-arms the guards whose reset_after passed, schedules calls for the
// alerts raised since the last tick, makes the calls that are due and
// records every outcome on its alert.
func (x *Executor) Tick(ctx context.Context) (Stats, error) {
	var st Stats
	var err error
	if st.Rearmed, err = x.rearm(ctx); err != nil {
		return st, err
	}
	for {
		var s scheduled
		_, more, err := alertsqlite.Consume(ctx, x.db, Component, []alert.EventKind{alert.EventRaised}, batch,
			func(tx *sql.Tx, events []alert.Event) error {
				s = scheduled{}
				return x.schedule(ctx, tx, events, &s)
			})
		if err != nil {
			return st, err
		}
		s.count(x, &st)
		if !more {
			break
		}
	}
	if err := x.callDue(ctx, &st); err != nil {
		return st, err
	}
	n, err := x.settle(ctx)
	st.Settled = n
	return st, err
}

// IdempotencyKey is the Idempotency-Key of an alert's call to an action:
// stable across retries and restarts, and distinct for another alert, even
// one with the same ID in another database.
func IdempotencyKey(a *alert.Alert, action string) string {
	h := sha256.New()
	for _, s := range []string{"vigil-action-v1", a.Fingerprint, strconv.FormatInt(a.ID, 10),
		a.CreatedAt.UTC().Format(time.RFC3339Nano), action} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "vigil-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// pick returns the action for a new alert: its rule's metadata first, then
// the first route that matches; "" for none.
func (x *Executor) pick(a *alert.Alert) string {
	if x.ruleAction != nil {
		if name := x.ruleAction(a.Rule); name != "" {
			return name
		}
	}
	for _, r := range x.cfg.Routes {
		if r.Match.Matches(string(a.Severity), a.Rule, a.Tags) {
			return r.Action
		}
	}
	return ""
}

// backoff is the wait before the next attempt after failed ones (≥ 1):
// full jitter under min(backoff_max, backoff_base·2^(failed-1)).
func (x *Executor) backoff(failed int) time.Duration {
	d := x.cfg.BackoffBase
	for i := 1; i < failed && d < x.cfg.BackoffMax; i++ {
		d *= 2
	}
	return x.jitter(min(d, x.cfg.BackoffMax))
}

func encode(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// Metrics are the Executor's series, for tools and tests.
type Metrics struct {
	Calls      *prometheus.CounterVec // rule, action, outcome
	Suppressed *prometheus.CounterVec // rule
	Trips      *prometheus.CounterVec // rule
}

// Metrics returns the Executor's series.
func (x *Executor) Metrics() Metrics {
	return Metrics{Calls: x.calls, Suppressed: x.suppressed, Trips: x.trips}
}
