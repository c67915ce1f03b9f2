package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Ack acknowledges an open alert: someone is on it.
func (s *Service) Ack(ctx context.Context, id int64, actor, comment string) (Alert, error) {
	return s.change(ctx, id, EventAcknowledged, actor, comment, func(a *Alert, actor string, now time.Time) error {
		if a.Status != Open {
			return &TransitionError{ID: id, From: a.Status, To: Acknowledged}
		}
		a.Status, a.AckedBy, a.AckedAt = Acknowledged, actor, &now
		return nil
	})
}

// Resolve closes an open or acknowledged alert with a resolution. The next
// hit on its fingerprint raises a new alert.
func (s *Service) Resolve(ctx context.Context, id int64, actor string, r Resolution, comment string) (Alert, error) {
	if r == "" {
		return Alert{}, fmt.Errorf("resolve alert %d: %w: resolution is required (true_positive, false_positive, benign or duplicate)", id, ErrInvalid)
	}
	if !r.valid() {
		return Alert{}, fmt.Errorf("resolve alert %d: %w: resolution %q: want true_positive, false_positive, benign or duplicate", id, ErrInvalid, r)
	}
	return s.change(ctx, id, EventResolved, actor, comment, func(a *Alert, actor string, now time.Time) error {
		if a.Status == Resolved {
			return &TransitionError{ID: id, From: a.Status, To: Resolved}
		}
		a.Status, a.Resolution, a.ResolvedBy, a.ResolvedAt = Resolved, r, actor, &now
		return nil
	})
}

// change applies one lifecycle step and its audit event in a transaction.
func (s *Service) change(ctx context.Context, id int64, kind EventKind, actor, comment string, step func(a *Alert, actor string, now time.Time) error) (Alert, error) {
	actor = strings.TrimSpace(actor)
	if actor == "" {
		verb := "acknowledge"
		if kind == EventResolved {
			verb = "resolve"
		}
		return Alert{}, fmt.Errorf("%s alert %d: %w: actor is required", verb, id, ErrInvalid)
	}
	var out Alert
	err := s.inTx(ctx, func(tx Tx) error {
		a, err := tx.Get(ctx, id)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		if err := step(&a, actor, now); err != nil {
			return err
		}
		if comment != "" {
			a.Comment = comment
		}
		a.UpdatedAt = now
		if err := tx.Update(ctx, &a); err != nil {
			return err
		}
		data, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("encode %s event: %w", kind, err)
		}
		out = a
		return tx.AddEvent(ctx, &Event{AlertID: id, Kind: kind, Actor: actor, Time: now, Comment: comment, Data: data})
	})
	if err != nil {
		return Alert{}, err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "alert "+string(kind), slog.Int64("alert", id),
		slog.String("rule", out.Rule), slog.String("entity", out.Entity.String()),
		slog.String("actor", actor), slog.String("resolution", string(out.Resolution)))
	if kind == EventResolved && s.kick != nil {
		s.kick()
	}
	return out, nil
}
