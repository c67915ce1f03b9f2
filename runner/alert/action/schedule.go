package action

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// scheduled is what one batch of raised events brought, counted into the
// metrics only once its transaction committed.
type scheduled struct {
	calls      int
	suppressed map[string]int // rule → alerts
	trips      []string       // rules
}

func (s *scheduled) count(x *Executor, st *Stats) {
	st.Scheduled += s.calls
	for rule, n := range s.suppressed {
		x.suppressed.WithLabelValues(rule).Add(float64(n))
		st.Suppressed += n
	}
	for _, rule := range s.trips {
		x.trips.WithLabelValues(rule).Inc()
		x.log.Warn("auto-actions: blast-radius guard tripped; the rule's actions stop and its alerts are downgraded to review",
			"rule", rule, "limit", x.cfg.Guard.Limit, "interval", x.cfg.Guard.Interval)
	}
}

// schedule writes a call (or its suppression) for each raised alert that
// has an action, inside the transaction that moves the cursor past it.
func (x *Executor) schedule(ctx context.Context, tx *sql.Tx, events []alert.Event, s *scheduled) error {
	for _, ev := range events {
		var a alert.Alert
		if err := json.Unmarshal(ev.Data, &a); err != nil {
			x.log.Error("auto-actions: a raised event without a readable alert; no action", "event", ev.ID, "alert", ev.AlertID, "err", err)
			continue
		}
		a.ID = ev.AlertID
		name := x.pick(&a)
		if name == "" {
			continue
		}
		at := ev.Time.UTC()
		state, errText := statePending, ""
		if _, ok := x.endpoints[name]; !ok {
			state, errText = stateSkipped, fmt.Sprintf("no endpoint %q in handling.auto_actions.endpoints", name)
		} else {
			allowed, err := x.admit(ctx, tx, &a, at, s)
			if err != nil {
				return err
			}
			if !allowed {
				state = stateSuppressed
				if s.suppressed == nil {
					s.suppressed = map[string]int{}
				}
				s.suppressed[a.Rule]++
			} else {
				s.calls++
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO alert_actions (alert_id, rule, action, idempotency_key, state, scheduled_at, due_at, error)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`,
			a.ID, a.Rule, name, IdempotencyKey(&a, name), state, sqldb.FormatTime(at), sqldb.FormatTime(x.now()), errText)
		if err != nil {
			return fmt.Errorf("schedule action %s for alert %d: %w", name, a.ID, err)
		}
	}
	return nil
}

// admit is the blast-radius guard: it reports whether the rule may make one
// more call for an alert raised at, and trips the guard when it may not.
func (x *Executor) admit(ctx context.Context, tx *sql.Tx, a *alert.Alert, at time.Time, s *scheduled) (bool, error) {
	g, found, err := readGuard(ctx, tx, a.Rule)
	if err != nil {
		return false, err
	}
	if !found {
		g = guardRow{armedAt: time.Unix(0, 0).UTC()}
		if _, err := tx.ExecContext(ctx, `INSERT INTO action_guards (rule, armed_at) VALUES (?, ?)`,
			a.Rule, sqldb.FormatTime(g.armedAt)); err != nil {
			return false, fmt.Errorf("guard of rule %s: %w", a.Rule, err)
		}
	}
	if g.trippedAt != nil {
		return false, nil
	}
	from := at.Add(-x.cfg.Guard.Interval)
	if g.armedAt.After(from) {
		from = g.armedAt
	}
	var n int
	// Calls scheduled, answered or not, within the interval before this alert.
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM alert_actions WHERE rule = ? AND scheduled_at > ? AND scheduled_at <= ?
		AND state IN ('pending', 'succeeded', 'failed')`, a.Rule, sqldb.FormatTime(from), sqldb.FormatTime(at)).Scan(&n); err != nil {
		return false, fmt.Errorf("guard of rule %s: count calls: %w", a.Rule, err)
	}
	if n < x.cfg.Guard.Limit {
		return true, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE action_guards SET tripped_at = ?, trip_alert_id = ?, notified = 0, trips = trips + 1
		WHERE rule = ?`, sqldb.FormatTime(x.now()), a.ID, a.Rule); err != nil {
		return false, fmt.Errorf("trip the guard of rule %s: %w", a.Rule, err)
	}
	s.trips = append(s.trips, a.Rule)
	return false, nil
}

// guardRow is one row of action_guards.
type guardRow struct {
	rule        string
	armedAt     time.Time
	trippedAt   *time.Time
	tripAlertID int64
	notified    bool
	trips       int
}

const guardColumns = `rule, armed_at, tripped_at, COALESCE(trip_alert_id, 0), notified, trips`

type scanner interface{ Scan(...any) error }

func scanGuard(r scanner) (guardRow, error) {
	var g guardRow
	var armed string
	var tripped sql.NullString
	if err := r.Scan(&g.rule, &armed, &tripped, &g.tripAlertID, &g.notified, &g.trips); err != nil {
		return g, err
	}
	var err error
	if g.armedAt, err = sqldb.ParseTime(armed); err != nil {
		return g, fmt.Errorf("guard of rule %s: armed_at: %w", g.rule, err)
	}
	if g.trippedAt, err = sqldb.ParseNullTime(tripped); err != nil {
		return g, fmt.Errorf("guard of rule %s: tripped_at: %w", g.rule, err)
	}
	return g, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readGuard(ctx context.Context, q querier, rule string) (guardRow, bool, error) {
	g, err := scanGuard(q.QueryRowContext(ctx, `SELECT `+guardColumns+` FROM action_guards WHERE rule = ?`, rule))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return guardRow{}, false, nil
	case err != nil:
		return guardRow{}, false, fmt.Errorf("guard of rule %s: %w", rule, err)
	}
	return g, true, nil
}
