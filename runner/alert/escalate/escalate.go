// Package escalate carries the timers of alert handling: escalation
// policies — an alert nobody acknowledged for T is told to the next level's
// receivers, again and again, until someone acknowledges, resolves or
// snoozes it — and auto-resolve policies, which resolve quiet alerts as
// actor vigil. Both keep their state in the runner's SQLite database, so a
// restart loses no timer and sends no notice twice.
//
// The Escalator tails the alert events (raised, reopened) through its own
// cursor and arms a timer per alert a policy matches; each tick fires the
// timers that fell due through alert.Service.Escalate, whose escalated event
// notify delivers to the level's receivers.
package escalate

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Component is the escalation timers' name in schema_migrations, and the
// Escalator's cursor over the alert events.
const Component = "escalate"

// batch is how many events or due timers one transaction takes.
const batch = 200

// Options configure an Escalator; zero values take the defaults.
type Options struct {
	Policies   []config.EscalationPolicy // checked by config; the first that matches an alert is its policy
	Now        func() time.Time          // wall clock (default time.Now)
	Interval   time.Duration             // how often Run ticks (default 10s)
	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: no metrics
}

// Escalator arms and fires escalation timers. Create it with New; start
// Run once, or drive it with Tick.
type Escalator struct {
	db       *sql.DB
	svc      *alert.Service
	policies map[string]config.EscalationPolicy
	order    []config.EscalationPolicy
	now      func() time.Time
	interval time.Duration
	log      *slog.Logger
	sent     *prometheus.CounterVec // policy, level
}

// New migrates the timers' table (and the alert tables it refers to) in db,
// the database svc's store uses, and returns an Escalator.
func New(ctx context.Context, db *sql.DB, svc *alert.Service, opts Options) (*Escalator, error) {
	if db == nil || svc == nil {
		return nil, errors.New("escalate: database and alert service are required")
	}
	if err := alertsqlite.Migrate(ctx, db); err != nil {
		return nil, fmt.Errorf("escalate: %w", err)
	}
	if err := sqldb.Migrate(ctx, db, Component, migrations); err != nil {
		return nil, fmt.Errorf("escalate: %w", err)
	}
	if err := alertsqlite.StartCursor(ctx, db, Component); err != nil {
		return nil, fmt.Errorf("escalate: %w", err)
	}
	e := &Escalator{db: db, svc: svc, policies: map[string]config.EscalationPolicy{}, order: opts.Policies,
		now: opts.Now, interval: opts.Interval, log: opts.Logger}
	for _, p := range opts.Policies {
		e.policies[p.Name] = p
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.interval <= 0 {
		e.interval = 10 * time.Second
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.sent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_alert_escalations_total", Help: "Escalation notices sent, by policy and level.",
	}, []string{"policy", "level"})
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(e.sent); err != nil {
			return nil, fmt.Errorf("escalate: register metrics: %w", err)
		}
	}
	return e, nil
}

// Run ticks until ctx ends. Errors are logged and retried at the next tick.
func (e *Escalator) Run(ctx context.Context) error {
	return run(ctx, e.interval, func(ctx context.Context) error {
		_, err := e.Tick(ctx)
		return err
	}, e.log, "escalation")
}

// run calls tick at once and then every interval until ctx ends.
func run(ctx context.Context, interval time.Duration, tick func(context.Context) error, log *slog.Logger, what string) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := tick(ctx); err != nil && ctx.Err() == nil {
			log.Error(what+" failed; retrying at the next tick", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick arms timers for the alerts raised or reopened since the last tick,
// then fires those due; it returns how many notices went out.
func (e *Escalator) Tick(ctx context.Context) (int, error) {
	if len(e.order) == 0 {
		return 0, nil
	}
	for {
		_, more, err := alertsqlite.Consume(ctx, e.db, Component, []alert.EventKind{alert.EventRaised, alert.EventReopened}, batch, e.arm)
		if err != nil {
			return 0, err
		}
		if !more {
			break
		}
	}
	return e.fire(ctx)
}

// arm starts a timer for each alert a policy matches.
func (e *Escalator) arm(tx *sql.Tx, events []alert.Event) error {
	for _, ev := range events {
		var a alert.Alert
		if err := json.Unmarshal(ev.Data, &a); err != nil {
			e.log.Error("escalation: an alert event without a readable alert; not escalated", "event", ev.ID, "alert", ev.AlertID, "err", err)
			continue
		}
		p, ok := e.policyFor(&a)
		if !ok {
			continue
		}
		first, _ := step(p.Levels, 0)
		start := ev.Time.UTC()
		if _, err := tx.Exec(`INSERT INTO alert_escalations (alert_id, policy, started_at, step, due_at) VALUES (?, ?, ?, 0, ?)
			ON CONFLICT (alert_id) DO UPDATE SET policy = excluded.policy, started_at = excluded.started_at, step = 0,
			due_at = excluded.due_at`, ev.AlertID, p.Name, sqldb.FormatTime(start), sqldb.FormatTime(start.Add(first.at))); err != nil {
			return fmt.Errorf("arm the escalation of alert %d: %w", ev.AlertID, err)
		}
	}
	return nil
}

func (e *Escalator) policyFor(a *alert.Alert) (config.EscalationPolicy, bool) {
	for _, p := range e.order {
		if p.Match.Matches(string(a.Severity), a.Rule, a.Tags) {
			return p, true
		}
	}
	return config.EscalationPolicy{}, false
}

// timer is one row of alert_escalations.
type timer struct {
	alertID int64
	policy  string
	started time.Time
	step    int
}

// fire sends the notices of every timer due now.
func (e *Escalator) fire(ctx context.Context) (int, error) {
	now := e.now().UTC()
	sent := 0
	for {
		due, err := e.due(ctx, now)
		if err != nil || len(due) == 0 {
			return sent, err
		}
		for _, t := range due {
			ok, err := e.fireOne(ctx, t, now)
			if err != nil {
				return sent, err
			}
			if ok {
				sent++
			}
		}
		if len(due) < batch {
			return sent, nil
		}
	}
}

func (e *Escalator) due(ctx context.Context, now time.Time) ([]timer, error) {
	rows, err := e.db.QueryContext(ctx, `SELECT alert_id, policy, started_at, step FROM alert_escalations
		WHERE due_at <= ? ORDER BY due_at, alert_id LIMIT ?`, sqldb.FormatTime(now), batch)
	if err != nil {
		return nil, fmt.Errorf("due escalations: %w", err)
	}
	defer rows.Close()
	var out []timer
	for rows.Next() {
		var t timer
		var started string
		if err := rows.Scan(&t.alertID, &t.policy, &started, &t.step); err != nil {
			return nil, fmt.Errorf("due escalations: %w", err)
		}
		if t.started, err = sqldb.ParseTime(started); err != nil {
			return nil, fmt.Errorf("due escalations: alert %d: %w", t.alertID, err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// fireOne sends the notice a due timer stands for and sets the next, or
// ends the timer; it reports whether a notice went out.
func (e *Escalator) fireOne(ctx context.Context, t timer, now time.Time) (bool, error) {
	p, ok := e.policies[t.policy]
	if !ok {
		e.log.Warn("escalation: the alert's policy is no longer configured; its escalation ends", "alert", t.alertID, "policy", t.policy)
		return false, e.end(ctx, t.alertID)
	}
	n, num, ok := latest(p.Levels, t.step, now.Sub(t.started))
	if !ok { // the policy changed under the timer: nothing due at this step any more
		return false, e.reschedule(ctx, t, p, t.step)
	}
	level := p.Levels[n.level]
	_, sent, err := e.svc.Escalate(ctx, t.alertID, alert.Escalation{Policy: p.Name, Level: n.level + 1, Step: num + 1, Receivers: level.Receivers})
	var te *alert.TransitionError
	switch {
	case errors.As(err, &te):
		a, gerr := e.svc.Get(ctx, t.alertID)
		if gerr == nil && a.Status == alert.Open && a.Snoozed(now) {
			return false, e.postpone(ctx, t.alertID, *a.SnoozedUntil)
		}
		return false, e.end(ctx, t.alertID) // acknowledged or resolved: escalation stops
	case errors.Is(err, alert.ErrNotFound):
		return false, e.end(ctx, t.alertID)
	case err != nil:
		return false, fmt.Errorf("escalate alert %d: %w", t.alertID, err)
	}
	if sent {
		e.sent.WithLabelValues(p.Name, fmt.Sprint(n.level+1)).Inc()
	}
	return sent, e.reschedule(ctx, t, p, num+1)
}

// reschedule sets the timer to its notice number next, or ends it when the
// policy has no more.
func (e *Escalator) reschedule(ctx context.Context, t timer, p config.EscalationPolicy, next int) error {
	n, ok := step(p.Levels, next)
	if !ok {
		return e.end(ctx, t.alertID)
	}
	_, err := e.db.ExecContext(ctx, `UPDATE alert_escalations SET step = ?, due_at = ? WHERE alert_id = ?`,
		next, sqldb.FormatTime(t.started.Add(n.at)), t.alertID)
	if err != nil {
		return fmt.Errorf("escalation of alert %d: %w", t.alertID, err)
	}
	return nil
}

func (e *Escalator) postpone(ctx context.Context, id int64, until time.Time) error {
	if _, err := e.db.ExecContext(ctx, `UPDATE alert_escalations SET due_at = ? WHERE alert_id = ?`, sqldb.FormatTime(until), id); err != nil {
		return fmt.Errorf("escalation of alert %d: %w", id, err)
	}
	return nil
}

func (e *Escalator) end(ctx context.Context, id int64) error {
	if _, err := e.db.ExecContext(ctx, `DELETE FROM alert_escalations WHERE alert_id = ?`, id); err != nil {
		return fmt.Errorf("escalation of alert %d: %w", id, err)
	}
	return nil
}

// Pending is one armed escalation timer, for tools and tests.
type Pending struct {
	AlertID int64
	Policy  string
	Step    int // notices sent so far
	Due     time.Time
}

// Pending lists the armed timers, soonest first.
func (e *Escalator) Pending(ctx context.Context) ([]Pending, error) {
	rows, err := e.db.QueryContext(ctx, `SELECT alert_id, policy, step, due_at FROM alert_escalations ORDER BY due_at, alert_id`)
	if err != nil {
		return nil, fmt.Errorf("escalation timers: %w", err)
	}
	defer rows.Close()
	var out []Pending
	for rows.Next() {
		var p Pending
		var due string
		if err := rows.Scan(&p.AlertID, &p.Policy, &p.Step, &due); err != nil {
			return nil, fmt.Errorf("escalation timers: %w", err)
		}
		if p.Due, err = sqldb.ParseTime(due); err != nil {
			return nil, fmt.Errorf("escalation timers: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
