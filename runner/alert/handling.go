package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
)

// ActionKind is what a person — or Vigil itself, as actor vigil — does to an
// alert. Each is one transition of the lifecycle (lifecycle.go).
type ActionKind string

const (
	ActAck      ActionKind = "ack"      // open → acknowledged: someone is on it
	ActResolve  ActionKind = "resolve"  // open or acknowledged → resolved, with a Resolution
	ActReopen   ActionKind = "reopen"   // resolved → open
	ActAssign   ActionKind = "assign"   // give it to a person or "team:<name>"
	ActUnassign ActionKind = "unassign" // take the assignee away
	ActComment  ActionKind = "comment"  // add a note to the audit trail
	ActSnooze   ActionKind = "snooze"   // hold escalation and auto-resolve until Until
	ActUnsnooze ActionKind = "unsnooze" // end a snooze early
)

// ActionKinds lists every ActionKind in lifecycle order.
func ActionKinds() []ActionKind {
	return []ActionKind{ActAck, ActResolve, ActReopen, ActAssign, ActUnassign, ActComment, ActSnooze, ActUnsnooze}
}

// verb names the action in messages: "cannot <verb> alert 7".
func (k ActionKind) verb() string {
	switch k {
	case ActAck:
		return "acknowledge"
	case ActComment:
		return "comment on"
	case "":
		return "change"
	}
	return string(k)
}

// Action is one request to change an alert.
type Action struct {
	Kind       ActionKind
	Actor      string     // who; required
	Comment    string     // why; required for comment, optional otherwise
	Resolution Resolution // resolve: true_positive, false_positive, benign or duplicate (required)
	Assignee   string     // assign: a person, or "team:<name>"
	Until      time.Time  // snooze: until when (in the future)
	Version    int        // optimistic concurrency: the version the actor saw; 0 = don't check
}

// Limits on what an Action carries.
const (
	MaxCommentBytes  = 4000
	MaxAssigneeBytes = 128
	// MaxBulk is the most alerts one ApplyMany changes.
	MaxBulk = MaxLimit
)

// BulkResult is what ApplyMany did to one alert: the alert after the
// change, or why it was refused (*TransitionError, *ConflictError,
// ErrNotFound wrapped, ...).
type BulkResult struct {
	ID    int64
	Alert Alert // after the change; zero when Err is set
	Err   error
}

// Apply makes one lifecycle change to an alert in one transaction with its
// audit event, and returns the alert after it. It refuses, changing nothing:
// a malformed action (ErrInvalid), an unknown alert (ErrNotFound), a change
// the alert's state does not allow (*TransitionError) and a stale Version
// (*ConflictError). A repeated hit, an escalation or an auto-action's result
// bump the alert's version without making an actor's version stale: only
// handling (Apply, by people or by Vigil) does.
func (s *Service) Apply(ctx context.Context, id int64, a Action) (Alert, error) {
	if err := s.validate(&a, fmt.Sprintf("alert %d", id), false); err != nil {
		return Alert{}, err
	}
	return s.apply(ctx, id, a)
}

// ApplyMany applies one action to many alerts, each in its own transaction,
// and reports per alert in the order of ids. The error is for the request as
// a whole: a malformed action, no ids or too many, a Version (which belongs
// to one alert), or ctx ending.
func (s *Service) ApplyMany(ctx context.Context, ids []int64, a Action) ([]BulkResult, error) {
	subject := fmt.Sprintf("%d alerts", len(ids))
	switch {
	case len(ids) == 0:
		return nil, fmt.Errorf("%s %s: %w: ids: at least one alert is required", a.Kind.verb(), subject, ErrInvalid)
	case len(ids) > MaxBulk:
		return nil, fmt.Errorf("%s %s: %w: ids: at most %d alerts at once", a.Kind.verb(), subject, ErrInvalid, MaxBulk)
	}
	if err := s.validate(&a, subject, true); err != nil {
		return nil, err
	}
	out := make([]BulkResult, len(ids))
	for i, id := range ids {
		if err := ctx.Err(); err != nil {
			return out[:i], err
		}
		out[i].ID = id
		if id < 1 {
			out[i].Err = fmt.Errorf("alert %d: %w: want a positive id", id, ErrInvalid)
			continue
		}
		out[i].Alert, out[i].Err = s.apply(ctx, id, a)
	}
	return out, nil
}

// Ack acknowledges an open alert: someone is on it.
func (s *Service) Ack(ctx context.Context, id int64, actor, comment string) (Alert, error) {
	return s.Apply(ctx, id, Action{Kind: ActAck, Actor: actor, Comment: comment})
}

// Resolve closes an open or acknowledged alert with a resolution. The next
// hit on its fingerprint raises a new alert.
func (s *Service) Resolve(ctx context.Context, id int64, actor string, r Resolution, comment string) (Alert, error) {
	return s.Apply(ctx, id, Action{Kind: ActResolve, Actor: actor, Resolution: r, Comment: comment})
}

// validate checks and tidies what an action carries, before any alert is
// read; subject names what it is for in messages ("alert 7", "3 alerts").
func (s *Service) validate(a *Action, subject string, bulk bool) error {
	t, known := transitions[a.Kind]
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s %s: %w: %s", a.Kind.verb(), subject, ErrInvalid, fmt.Sprintf(format, args...))
	}
	if !known {
		return fmt.Errorf("change %s: %w: action %q: want %s", subject, ErrInvalid, a.Kind, kindList())
	}
	a.Actor = strings.TrimSpace(a.Actor)
	a.Assignee = strings.TrimSpace(a.Assignee)
	a.Comment = strings.TrimSpace(a.Comment)
	switch {
	case a.Actor == "":
		return bad("actor is required")
	case len(a.Actor) > MaxAssigneeBytes || hasControl(a.Actor):
		return bad("actor: at most %d printable bytes", MaxAssigneeBytes)
	case len(a.Comment) > MaxCommentBytes:
		return bad("comment: %d bytes, at most %d", len(a.Comment), MaxCommentBytes)
	case a.Version < 0:
		return bad("version %d: want the version you saw, or 0", a.Version)
	case bulk && a.Version != 0:
		return bad("version: a version belongs to one alert; a bulk action takes none")
	case a.Resolution != "" && a.Kind != ActResolve:
		return bad("resolution is only for resolve")
	case a.Assignee != "" && a.Kind != ActAssign:
		return bad("assignee is only for assign")
	case !a.Until.IsZero() && a.Kind != ActSnooze:
		return bad("until is only for snooze")
	}
	if t.validate != nil {
		if msg := t.validate(a, s.now()); msg != "" {
			return bad("%s", msg)
		}
	}
	return nil
}

func kindList() string {
	names := make([]string, 0, 8)
	for _, k := range ActionKinds() {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}

func hasControl(s string) bool { return strings.IndexFunc(s, unicode.IsControl) >= 0 }

// apply runs a validated action.
func (s *Service) apply(ctx context.Context, id int64, act Action) (Alert, error) {
	t := transitions[act.Kind]
	var before, out Alert
	err := s.inTx(ctx, func(tx Tx) error {
		a, err := tx.Get(ctx, id)
		if err != nil {
			return err
		}
		if act.Version != 0 && (act.Version < a.HandledVersion || act.Version > a.Version) {
			return &ConflictError{ID: id, Seen: act.Version, Current: a.Version, By: a.UpdatedBy}
		}
		now := s.now().UTC()
		if reason := t.refuse(&a, &act, now); reason != "" {
			return &TransitionError{ID: id, Action: act.Kind, Status: a.Status, Reason: reason}
		}
		if act.Kind == ActReopen {
			// Reopening would make two unresolved alerts with one fingerprint.
			if other, found, err := tx.Unresolved(ctx, a.Fingerprint); err != nil {
				return err
			} else if found {
				return &TransitionError{ID: id, Action: act.Kind, Status: a.Status,
					Reason: fmt.Sprintf("alert %d is %s for the same rule and entity", other.ID, other.Status)}
			}
		}
		before = a
		t.apply(&a, &act, now)
		if act.Comment != "" {
			a.Comment = act.Comment
		}
		a.UpdatedAt, a.UpdatedBy = now, act.Actor
		a.HandledVersion = a.Version + 1 // what Update makes Version
		if err := tx.Update(ctx, &a); err != nil {
			return err
		}
		data, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("encode %s event: %w", t.event, err)
		}
		out = a
		return tx.AddEvent(ctx, &Event{AlertID: id, Kind: t.event, Actor: act.Actor, Time: now, Comment: act.Comment, Data: data})
	})
	if err != nil {
		return Alert{}, err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "alert "+string(t.event), slog.Int64("alert", id),
		slog.String("rule", out.Rule), slog.String("entity", out.Entity.String()),
		slog.String("actor", act.Actor), slog.String("resolution", string(out.Resolution)))
	s.metrics.applied(&before, &out, act.Kind)
	if (t.event == EventResolved || t.event == EventReopened) && s.kick != nil {
		s.kick()
	}
	return out, nil
}

// inTx runs fn in a transaction, again from the start when it lost a race
// to another writer (a store shared by several processes). A stale Version
// is the actor's to resolve, not a race: it is not retried.
func (s *Service) inTx(ctx context.Context, fn func(Tx) error) error {
	var err error
	for range txAttempts {
		err = s.store.InTx(ctx, fn)
		var stale *ConflictError
		if !errors.Is(err, ErrConflict) || errors.As(err, &stale) {
			return err
		}
	}
	return err
}
