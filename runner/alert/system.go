package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/vigil-risk/vigil/runner/decision"
)

// What Vigil's own handling (alert/escalate, alert/action) records on alerts.
// Each is idempotent where a retry after a crash could repeat it, and none
// makes an actor's version stale (see Apply).

// Labels that escalation notices add to an alert's label set.
const (
	LabelEscalationLevel  = "escalation_level"  // 1, 2, ...
	LabelEscalationPolicy = "escalation_policy" // the policy's name
)

// Escalation is one escalation notice.
type Escalation struct {
	Policy    string
	Level     int // 1-based
	Step      int // 1-based: notices since the alert was (re)opened, repeats included
	Receivers []string
}

// Escalate tells an escalation level's receivers that an alert is still
// unacknowledged: an escalated event carrying a NoticeData, which notify
// delivers. It reports false, doing nothing, when the alert already had
// this step; and refuses (*TransitionError) an alert that is no longer open
// or is snoozed.
func (s *Service) Escalate(ctx context.Context, id int64, e Escalation) (Alert, bool, error) {
	if e.Level < 1 || e.Step < 1 || len(e.Receivers) == 0 {
		return Alert{}, false, fmt.Errorf("escalate alert %d: %w: level %d, step %d, %d receivers", id, ErrInvalid, e.Level, e.Step, len(e.Receivers))
	}
	var out Alert
	done := false
	err := s.inTx(ctx, func(tx Tx) error {
		a, err := tx.Get(ctx, id)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		switch {
		case a.Status != Open:
			return &TransitionError{ID: id, Action: "escalate", Status: a.Status, Reason: "it is " + string(a.Status)}
		case a.Snoozed(now):
			return &TransitionError{ID: id, Action: "escalate", Status: a.Status,
				Reason: "it is snoozed until " + a.SnoozedUntil.Format(time.RFC3339)}
		case a.Escalations >= e.Step:
			out, done = a, false
			return nil
		}
		a.EscalationLevel, a.Escalations = e.Level, e.Step
		a.UpdatedAt = now
		if err := tx.Update(ctx, &a); err != nil {
			return err
		}
		notice := Notice{
			Receivers: e.Receivers,
			Labels:    map[string]string{LabelEscalationLevel: strconv.Itoa(e.Level), LabelEscalationPolicy: e.Policy},
			Summary:   fmt.Sprintf("unacknowledged for %s: escalation level %d of policy %s", now.Sub(a.CreatedAt).Round(time.Second), e.Level, e.Policy),
		}
		out, done = a, true
		_, err = s.addNotice(ctx, tx, &a, EventEscalated, notice.Summary, notice, now)
		return err
	})
	if err != nil {
		return Alert{}, false, err
	}
	if done {
		s.log.LogAttrs(ctx, slog.LevelInfo, "alert escalated", slog.Int64("alert", id), slog.String("rule", out.Rule),
			slog.String("policy", e.Policy), slog.Int("level", e.Level), slog.Any("receivers", e.Receivers))
		if s.kick != nil {
			s.kick()
		}
	}
	return out, done, nil
}

// Downgrade marks an alert whose auto-actions the blast-radius guard
// stopped: it asks for review by a person instead. It reports false, doing
// nothing, for an alert already downgraded.
func (s *Service) Downgrade(ctx context.Context, id int64, reason string) (Alert, bool, error) {
	var out Alert
	done := false
	err := s.inTx(ctx, func(tx Tx) error {
		a, err := tx.Get(ctx, id)
		if err != nil {
			return err
		}
		if a.Downgraded {
			out, done = a, false
			return nil
		}
		now := s.now().UTC()
		a.Downgraded, a.Action, a.UpdatedAt = true, decision.Review, now
		if err := tx.Update(ctx, &a); err != nil {
			return err
		}
		data, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("encode downgraded event: %w", err)
		}
		out, done = a, true
		return tx.AddEvent(ctx, &Event{AlertID: id, Kind: EventDowngraded, Actor: SystemActor, Time: now, Comment: reason, Data: data})
	})
	return out, done, err
}

// Note appends an event by Vigil to an alert without changing it, such as
// an auto-action's outcome (kind auto_action, data an AutoActionData).
func (s *Service) Note(ctx context.Context, id int64, kind EventKind, comment string, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("alert %d: encode %s event: %w", id, kind, err)
	}
	e := Event{AlertID: id, Kind: kind, Actor: SystemActor, Comment: comment, Data: raw}
	err = s.inTx(ctx, func(tx Tx) error {
		if _, err := tx.Get(ctx, id); err != nil {
			return err
		}
		e.ID, e.Time = 0, s.now().UTC()
		return tx.AddEvent(ctx, &e)
	})
	return e, err
}

// Announce appends an event by Vigil that tells receivers about an alert
// (kind guard_tripped, say): its Data is a NoticeData with the alert as it
// is now, and notify delivers it to n.Receivers.
func (s *Service) Announce(ctx context.Context, id int64, kind EventKind, n Notice) (Event, error) {
	if len(n.Receivers) == 0 {
		return Event{}, fmt.Errorf("alert %d: %s notice: %w: no receivers", id, kind, ErrInvalid)
	}
	var e Event
	err := s.inTx(ctx, func(tx Tx) error {
		a, err := tx.Get(ctx, id)
		if err != nil {
			return err
		}
		e, err = s.addNotice(ctx, tx, &a, kind, n.Summary, n, s.now().UTC())
		return err
	})
	if err == nil && s.kick != nil {
		s.kick()
	}
	return e, err
}

func (s *Service) addNotice(ctx context.Context, tx Tx, a *Alert, kind EventKind, comment string, n Notice, now time.Time) (Event, error) {
	data, err := json.Marshal(NoticeData{Alert: *a, Notice: n})
	if err != nil {
		return Event{}, fmt.Errorf("encode %s event: %w", kind, err)
	}
	e := Event{AlertID: a.ID, Kind: kind, Actor: SystemActor, Time: now, Comment: comment, Data: data}
	return e, tx.AddEvent(ctx, &e)
}
