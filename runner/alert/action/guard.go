package action

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// settle records on the alerts what became of their actions: the guard's
// trip notices first, then a downgrade for each suppressed action and an
// auto_action event for each finished call. Each outcome is marked settled
// after it is recorded, so a crash in between records it twice rather than
// never; downgrades and trip notices check first and are not repeated.
func (x *Executor) settle(ctx context.Context) (int, error) {
	if err := x.announceTrips(ctx); err != nil {
		return 0, err
	}
	settled := 0
	for {
		rows, err := x.db.QueryContext(ctx, `SELECT id, alert_id, rule, action, idempotency_key, state, attempts, http_status, error, response
			FROM alert_actions WHERE settled = 0 AND state != ? ORDER BY id LIMIT ?`, statePending, batch)
		if err != nil {
			return settled, fmt.Errorf("unsettled actions: %w", err)
		}
		var out []outcome
		for rows.Next() {
			var r outcome
			if err := rows.Scan(&r.id, &r.a.ID, &r.a.Rule, &r.data.Action, &r.data.IdempotencyKey, &r.data.Status, &r.data.Attempts,
				&r.data.HTTPStatus, &r.data.Error, &r.data.Response); err != nil {
				rows.Close()
				return settled, fmt.Errorf("unsettled actions: %w", err)
			}
			out = append(out, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return settled, fmt.Errorf("unsettled actions: %w", err)
		}
		for _, r := range out {
			if err := x.settleOne(ctx, &r.a, r.data); err != nil {
				return settled, err
			}
			if _, err := x.db.ExecContext(ctx, `UPDATE alert_actions SET settled = 1 WHERE id = ?`, r.id); err != nil {
				return settled, fmt.Errorf("action %d: %w", r.id, err)
			}
			settled++
		}
		if len(out) < batch {
			return settled, nil
		}
	}
}

// outcome is a finished or suppressed call, to record on its alert.
type outcome struct {
	id   int64
	data alert.AutoActionData
	a    alert.Alert
}

func (x *Executor) settleOne(ctx context.Context, a *alert.Alert, d alert.AutoActionData) error {
	var err error
	if d.Status == stateSuppressed {
		_, _, err = x.svc.Downgrade(ctx, a.ID, fmt.Sprintf("the blast-radius guard of rule %s is tripped (more than %d auto-actions in %s): %s was not called; review by hand",
			a.Rule, x.cfg.Guard.Limit, x.cfg.Guard.Interval, d.Action))
	} else {
		comment := fmt.Sprintf("auto-action %s %s after %d attempt(s)", d.Action, d.Status, d.Attempts)
		if d.HTTPStatus != 0 {
			comment += fmt.Sprintf(" (HTTP %d)", d.HTTPStatus)
		} else if d.Error != "" {
			comment += ": " + d.Error
		}
		_, err = x.svc.Note(ctx, a.ID, alert.EventAutoAction, comment, d)
	}
	if errors.Is(err, alert.ErrNotFound) {
		x.log.Warn("auto-actions: the alert is gone; its action's outcome is not recorded", "alert", a.ID, "action", d.Action, "status", d.Status)
		return nil
	}
	if err != nil {
		return fmt.Errorf("record action %s on alert %d: %w", d.Action, a.ID, err)
	}
	return nil
}

// announceTrips tells the guard's receivers of each trip not yet told.
func (x *Executor) announceTrips(ctx context.Context) error {
	gs, err := x.guards(ctx, `tripped_at IS NOT NULL AND notified = 0`)
	if err != nil {
		return err
	}
	for _, g := range gs {
		if err := x.announce(ctx, g); err != nil {
			return err
		}
		if _, err := x.db.ExecContext(ctx, `UPDATE action_guards SET notified = 1 WHERE rule = ? AND tripped_at = ?`,
			g.rule, sqldb.FormatTime(*g.trippedAt)); err != nil {
			return fmt.Errorf("guard of rule %s: %w", g.rule, err)
		}
	}
	return nil
}

func (x *Executor) announce(ctx context.Context, g guardRow) error {
	receivers := x.cfg.Guard.Notify
	if len(receivers) == 0 || g.tripAlertID == 0 {
		x.log.Warn("auto-actions: guard tripped; handling.auto_actions.guard.notify names nobody to tell", "rule", g.rule)
		return nil
	}
	// A crash after the notice and before notified was set must not tell twice.
	events, err := x.svc.Events(ctx, g.tripAlertID)
	if errors.Is(err, alert.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("guard of rule %s: %w", g.rule, err)
	}
	for _, e := range events {
		if e.Kind == alert.EventGuardTripped && !e.Time.Before(*g.trippedAt) {
			return nil
		}
	}
	rearm := "re-arm it with `vigil alerts guard reset " + g.rule + "`"
	if x.cfg.Guard.ResetAfter > 0 {
		rearm = fmt.Sprintf("it re-arms after %s, or with `vigil alerts guard reset %s`", x.cfg.Guard.ResetAfter, g.rule)
	}
	_, err = x.svc.Announce(ctx, g.tripAlertID, alert.EventGuardTripped, alert.Notice{
		Receivers: receivers,
		Labels:    map[string]string{"guard": "tripped", "guard_rule": g.rule},
		Summary: fmt.Sprintf("blast-radius guard tripped: rule %s asked for more than %d auto-actions in %s; its actions are stopped and its alerts downgraded to review; %s",
			g.rule, x.cfg.Guard.Limit, x.cfg.Guard.Interval, rearm),
	})
	if err != nil && !errors.Is(err, alert.ErrNotFound) {
		return fmt.Errorf("guard of rule %s: notify: %w", g.rule, err)
	}
	return nil
}

// rearm re-arms the guards tripped at least reset_after ago.
func (x *Executor) rearm(ctx context.Context) (int, error) {
	after := x.cfg.Guard.ResetAfter
	if after <= 0 {
		return 0, nil
	}
	gs, err := x.guards(ctx, `tripped_at IS NOT NULL AND tripped_at <= ?`, sqldb.FormatTime(x.now().Add(-after)))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, g := range gs {
		ok, err := x.reset(ctx, g, alert.SystemActor, fmt.Sprintf("reset_after %s elapsed", after))
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// Reset re-arms a rule's tripped guard by hand, recording who and why on
// the alert that tripped it (a guard_reset event). It reports false for a
// guard that is not tripped.
func (x *Executor) Reset(ctx context.Context, rule, actor, reason string) (bool, error) {
	rule, actor = strings.TrimSpace(rule), strings.TrimSpace(actor)
	switch {
	case rule == "":
		return false, errors.New("guard reset: rule is required")
	case actor == "":
		return false, errors.New("guard reset: actor is required")
	}
	g, found, err := readGuard(ctx, x.db, rule)
	if err != nil {
		return false, err
	}
	if !found {
		return false, fmt.Errorf("guard reset: rule %q has no guard (none of its alerts ever had an auto-action)", rule)
	}
	if g.trippedAt == nil {
		return false, nil
	}
	if reason == "" {
		reason = "re-armed by hand"
	}
	return x.reset(ctx, g, actor, reason)
}

// GuardResetData is the Data of a guard_reset event.
type GuardResetData struct {
	Rule      string    `json:"rule"`
	Actor     string    `json:"actor"` // a person, or vigil after reset_after
	Reason    string    `json:"reason"`
	TrippedAt time.Time `json:"tripped_at"`
}

func (x *Executor) reset(ctx context.Context, g guardRow, actor, reason string) (bool, error) {
	if g.tripAlertID != 0 {
		_, err := x.svc.Note(ctx, g.tripAlertID, EventGuardReset,
			fmt.Sprintf("blast-radius guard of rule %s re-armed by %s: %s", g.rule, actor, reason),
			GuardResetData{Rule: g.rule, Actor: actor, Reason: reason, TrippedAt: *g.trippedAt})
		if err != nil && !errors.Is(err, alert.ErrNotFound) {
			return false, fmt.Errorf("guard of rule %s: audit the reset: %w", g.rule, err)
		}
	}
	res, err := x.db.ExecContext(ctx, `UPDATE action_guards SET tripped_at = NULL, trip_alert_id = NULL, notified = 0, armed_at = ?
		WHERE rule = ? AND tripped_at = ?`, sqldb.FormatTime(x.now()), g.rule, sqldb.FormatTime(*g.trippedAt))
	if err != nil {
		return false, fmt.Errorf("guard of rule %s: reset: %w", g.rule, err)
	}
	n, _ := res.RowsAffected()
	if n > 0 {
		x.log.Info("auto-actions: blast-radius guard re-armed", "rule", g.rule, "actor", actor, "reason", reason)
	}
	return n > 0, nil
}

// Guard is the state of one rule's blast-radius guard.
type Guard struct {
	Rule        string     `json:"rule"`
	Tripped     bool       `json:"tripped"`
	TrippedAt   *time.Time `json:"tripped_at,omitempty"`
	TripAlertID int64      `json:"trip_alert_id,omitempty"` // the alert that tripped it
	RearmAt     *time.Time `json:"rearm_at,omitempty"`      // when reset_after re-arms it; nil: by hand only
	ArmedAt     time.Time  `json:"armed_at"`
	Trips       int        `json:"trips"`  // ever
	Recent      int        `json:"recent"` // calls within the latest interval
	Limit       int        `json:"limit"`
	Interval    string     `json:"interval"`
}

// Guards lists the guards of the rules that ever had an auto-action.
func (x *Executor) Guards(ctx context.Context) ([]Guard, error) {
	gs, err := x.guards(ctx, `1 = 1`)
	if err != nil {
		return nil, err
	}
	now := x.now().UTC()
	out := make([]Guard, 0, len(gs))
	for _, g := range gs {
		v := Guard{Rule: g.rule, Tripped: g.trippedAt != nil, TrippedAt: g.trippedAt, TripAlertID: g.tripAlertID, ArmedAt: g.armedAt,
			Trips: g.trips, Limit: x.cfg.Guard.Limit, Interval: x.cfg.Guard.Interval.String()}
		if g.trippedAt != nil && x.cfg.Guard.ResetAfter > 0 {
			at := g.trippedAt.Add(x.cfg.Guard.ResetAfter)
			v.RearmAt = &at
		}
		from := now.Add(-x.cfg.Guard.Interval)
		if g.armedAt.After(from) {
			from = g.armedAt
		}
		if err := x.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM alert_actions WHERE rule = ? AND scheduled_at > ?
			AND state IN ('pending', 'succeeded', 'failed')`, g.rule, sqldb.FormatTime(from)).Scan(&v.Recent); err != nil {
			return nil, fmt.Errorf("guard of rule %s: %w", g.rule, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// guards reads the guard rows matching a condition, by rule.
func (x *Executor) guards(ctx context.Context, where string, args ...any) ([]guardRow, error) {
	rows, err := x.db.QueryContext(ctx, `SELECT `+guardColumns+` FROM action_guards WHERE `+where+` ORDER BY rule`, args...)
	if err != nil {
		return nil, fmt.Errorf("action guards: %w", err)
	}
	defer rows.Close()
	var out []guardRow
	for rows.Next() {
		g, err := scanGuard(rows)
		if err != nil {
			return nil, fmt.Errorf("action guards: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}
