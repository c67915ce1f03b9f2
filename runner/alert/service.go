package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/record"
)

// Options configure a Service; zero values take the defaults.
type Options struct {
	// MinSeverity is the lowest severity that raises an alert (default low).
	MinSeverity decision.Severity
	// Now is the wall clock (default time.Now).
	Now func() time.Time
	// Logger receives one line per raised, acknowledged or resolved alert.
	Logger *slog.Logger
	// RuleInfo looks up a rule's owner, runbook and tags for a new alert.
	RuleInfo func(rule string) (RuleInfo, bool)
	// KeepRecords is how many of its latest records an alert keeps (default 20).
	KeepRecords int
	// Kick, if set, is called after a commit that raised, resolved,
	// reopened or escalated an alert, so that the notifier fans it out at
	// once (notify.Dispatcher.Kick).
	Kick func()
	// Registerer takes the per-rule metrics (metrics.go); nil: none.
	Registerer prometheus.Registerer
}

// DefaultKeepRecords is the default of Options.KeepRecords.
const DefaultKeepRecords = 20

// txAttempts bounds the retries of a transaction that lost a race (ErrConflict).
const txAttempts = 3

// Service raises alerts from decisions and carries them through their life.
// It is safe for concurrent use.
type Service struct {
	store    Store
	minRank  int
	now      func() time.Time
	log      *slog.Logger
	ruleInfo func(string) (RuleInfo, bool)
	keep     int
	kick     func()
	metrics  *metrics // nil: none
}

// NewService returns a Service over store. An unknown MinSeverity or a
// negative KeepRecords is an error.
func NewService(store Store, opts Options) (*Service, error) {
	if store == nil {
		return nil, errors.New("alert service: store is nil")
	}
	s := &Service{
		store:    store,
		now:      opts.Now,
		log:      opts.Logger,
		ruleInfo: opts.RuleInfo,
		keep:     opts.KeepRecords,
		kick:     opts.Kick,
	}
	if opts.MinSeverity != "" {
		if _, err := decision.ParseSeverity(string(opts.MinSeverity)); err != nil {
			return nil, fmt.Errorf("alert service: min severity: %w", err)
		}
		s.minRank = opts.MinSeverity.Rank()
	}
	if s.keep < 0 {
		return nil, fmt.Errorf("alert service: keep records %d: want 0 (default %d) or more", s.keep, DefaultKeepRecords)
	}
	if s.keep == 0 {
		s.keep = DefaultKeepRecords
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.ruleInfo == nil {
		s.ruleInfo = func(string) (RuleInfo, bool) { return RuleInfo{}, false }
	}
	if opts.Registerer != nil {
		var err error
		if s.metrics, err = newMetrics(opts.Registerer, store); err != nil {
			return nil, fmt.Errorf("alert service: %w", err)
		}
	}
	return s, nil
}

// alerts reports whether a hit raises or updates an alert. Shadow hits live
// in Decision.ShadowHits and are never looked at.
func (s *Service) alerts(h *decision.Hit) bool { return h.Severity.Rank() >= s.minRank }

// observation is what one record brings to every alert it touches.
type observation struct {
	recordID string
	at       time.Time // event time
	now      time.Time // wall time
	fields   json.RawMessage
	decision json.RawMessage
}

// Observe raises or updates an alert for every enforced hit of d at or above
// the minimum severity, in one transaction together with the record and an
// audit event per alert. It returns the alerts it touched (a raised one has
// Count 1). A decision with nothing to alert on costs a loop over its hits.
func (s *Service) Observe(ctx context.Context, rec record.Record, d decision.Decision) ([]Alert, error) {
	n := 0
	for i := range d.Hits {
		if s.alerts(&d.Hits[i]) {
			n++
		}
	}
	if n == 0 {
		return nil, nil
	}
	return s.observe(ctx, rec, d, n)
}

// observe is the slow path of Observe, apart so that the fast one does not
// move the decision to the heap (the transaction closure captures it).
func (s *Service) observe(ctx context.Context, rec record.Record, d decision.Decision, n int) ([]Alert, error) {
	o, err := s.observation(rec, d)
	if err != nil {
		return nil, err
	}
	out := make([]Alert, 0, n)
	var raised int
	err = s.inTx(ctx, func(tx Tx) error {
		out, raised, err = s.observeHits(ctx, tx, &d, &o, out[:0])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("observe record %s: %w", o.recordID, err)
	}
	if raised > 0 {
		s.raised(ctx, out, o.recordID)
		if s.kick != nil {
			s.kick()
		}
	}
	return out, nil
}

// Observed is one decision handed to ObserveBatch, and what it touched.
type Observed struct {
	Record   record.Record
	Decision decision.Decision
	// Alerts is set by ObserveBatch: the alerts this decision raised or
	// updated, what Observe would have returned for it.
	Alerts []Alert
}

// ObserveBatch is Observe for several decisions in one transaction: the
// same alerts, records and audit events, in the same order and on the same
// hash chain, as Observe called on each in turn, for one commit instead of
// one per decision (the commit is most of the cost). It stores all or
// nothing: on error no entry's alerts were stored, and every Alerts is nil.
func (s *Service) ObserveBatch(ctx context.Context, batch []Observed) error {
	var obs []observation // only for the entries with something to alert on
	var first int
	for i := range batch {
		b := &batch[i]
		b.Alerts = nil
		n := 0
		for k := range b.Decision.Hits {
			if s.alerts(&b.Decision.Hits[k]) {
				n++
			}
		}
		if n == 0 {
			continue
		}
		if obs == nil {
			obs, first = make([]observation, len(batch)), i
		}
		o, err := s.observation(b.Record, b.Decision)
		if err != nil {
			return err
		}
		obs[i] = o
		b.Alerts = make([]Alert, 0, n)
	}
	if obs == nil {
		return nil
	}
	var raised int
	err := s.inTx(ctx, func(tx Tx) error {
		raised = 0
		for i := first; i < len(batch); i++ {
			b := &batch[i]
			if b.Alerts == nil {
				continue
			}
			var r int
			var err error
			if b.Alerts, r, err = s.observeHits(ctx, tx, &b.Decision, &obs[i], b.Alerts[:0]); err != nil {
				return fmt.Errorf("record %s: %w", obs[i].recordID, err)
			}
			raised += r
		}
		return nil
	})
	if err != nil {
		for i := range batch {
			batch[i].Alerts = nil
		}
		return fmt.Errorf("observe a batch of %d records: %w", len(batch), err)
	}
	if raised > 0 {
		for i := first; i < len(batch); i++ {
			s.raised(ctx, batch[i].Alerts, obs[i].recordID)
		}
		if s.kick != nil {
			s.kick() // once per commit, as for one decision
		}
	}
	return nil
}

// observeHits folds every alerting hit of d into out, within tx, and counts
// the alerts raised.
func (s *Service) observeHits(ctx context.Context, tx Tx, d *decision.Decision, o *observation, out []Alert) ([]Alert, int, error) {
	raised := 0
	for i := range d.Hits {
		h := &d.Hits[i]
		if !s.alerts(h) {
			continue
		}
		a, isNew, err := s.observeHit(ctx, tx, h, d.PolicyRevision, o)
		if err != nil {
			return out, raised, fmt.Errorf("rule %s: %w", h.Rule, err)
		}
		if isNew {
			raised++
		}
		out = append(out, a)
	}
	return out, raised, nil
}

// raised counts and logs the alerts of out that a record raised (Count 1).
func (s *Service) raised(ctx context.Context, out []Alert, recordID string) {
	for _, a := range out {
		if a.Count == 1 {
			s.metrics.raised(&a)
			s.log.LogAttrs(ctx, slog.LevelInfo, "alert raised", slog.Int64("alert", a.ID),
				slog.String("rule", a.Rule), slog.String("entity", a.Entity.String()),
				slog.String("severity", string(a.Severity)), slog.String("record", recordID))
		}
	}
}

func (s *Service) observation(rec record.Record, d decision.Decision) (observation, error) {
	o := observation{recordID: rec.ID, at: rec.Time, now: s.now().UTC()}
	if o.recordID == "" {
		o.recordID = d.RecordID
	}
	if o.at.IsZero() {
		o.at = d.Time
	}
	if o.at.IsZero() {
		o.at = o.now
	}
	o.at = o.at.UTC()
	fields := rec.Fields
	if fields == nil {
		fields = map[string]any{}
	}
	var err error
	if o.fields, err = json.Marshal(fields); err != nil {
		return o, fmt.Errorf("observe record %s: encode record: %w", o.recordID, err)
	}
	if o.decision, err = json.Marshal(d); err != nil {
		return o, fmt.Errorf("observe record %s: encode decision: %w", o.recordID, err)
	}
	return o, nil
}

// observeHit folds one hit into the unresolved alert with its fingerprint,
// or raises a new one.
func (s *Service) observeHit(ctx context.Context, tx Tx, h *decision.Hit, revision string, o *observation) (Alert, bool, error) {
	entity := decision.Entity{Field: "id", Value: o.recordID}
	if h.Entity != nil && h.Entity.Value != "" {
		entity = *h.Entity
	}
	fp := Fingerprint(h.Rule, entity)
	a, found, err := tx.Unresolved(ctx, fp)
	if err != nil {
		return Alert{}, false, err
	}
	ev := Event{Actor: SystemActor, Time: o.now}
	if found {
		a.Count++
		a.Reason = h.Reason
		a.LastRecordID = o.recordID
		if o.at.Before(a.FirstSeen) {
			a.FirstSeen = o.at
		}
		if o.at.After(a.LastSeen) {
			a.LastSeen = o.at
		}
		a.UpdatedAt = o.now
		if err := tx.Repeat(ctx, &a); err != nil {
			return Alert{}, false, err
		}
		ev.Kind = EventRepeated
		ev.Data, err = json.Marshal(RepeatData{RecordID: o.recordID, Reason: h.Reason, Count: a.Count})
	} else {
		a = Alert{
			Fingerprint:    fp,
			Rule:           h.Rule,
			Title:          h.Title,
			Severity:       h.Severity,
			Action:         h.Action,
			Entity:         entity,
			Status:         Open,
			Reason:         h.Reason,
			LastRecordID:   o.recordID,
			Count:          1,
			FirstSeen:      o.at,
			LastSeen:       o.at,
			CreatedAt:      o.now,
			UpdatedAt:      o.now,
			PolicyRevision: revision,
		}
		if a.Title == "" {
			a.Title = h.Rule
		}
		if info, ok := s.ruleInfo(h.Rule); ok {
			a.Owner, a.Runbook, a.Tags = info.Owner, info.Runbook, info.Tags
		}
		if err := tx.Insert(ctx, &a); err != nil {
			return Alert{}, false, err
		}
		ev.Kind = EventRaised
		ev.Data, err = json.Marshal(a)
	}
	if err != nil {
		return Alert{}, false, fmt.Errorf("encode %s event: %w", ev.Kind, err)
	}
	ev.AlertID = a.ID
	r := AlertRecord{AlertID: a.ID, RecordID: o.recordID, Time: o.at, Fields: o.fields, Decision: o.decision, AddedAt: o.now}
	if err := tx.AddRecord(ctx, &r); err != nil {
		return Alert{}, false, err
	}
	if a.Count > s.keep {
		if err := tx.TrimRecords(ctx, a.ID, s.keep); err != nil {
			return Alert{}, false, err
		}
	}
	if err := tx.AddEvent(ctx, &ev); err != nil {
		return Alert{}, false, err
	}
	return a, !found, nil
}

// Get returns one alert; ErrNotFound wrapped when there is none.
func (s *Service) Get(ctx context.Context, id int64) (Alert, error) {
	return s.store.Get(ctx, id)
}

// List returns the alerts matching f, newest first.
func (s *Service) List(ctx context.Context, f Filter) ([]Alert, error) {
	if f.Status != "" && !f.Status.valid() {
		return nil, fmt.Errorf("list alerts: %w: status %q: want open, acknowledged or resolved", ErrInvalid, f.Status)
	}
	if f.Severity != "" && f.Severity.Rank() < 0 {
		return nil, fmt.Errorf("list alerts: %w: severity %q: want low, medium, high or critical", ErrInvalid, f.Severity)
	}
	f.Assignee = strings.TrimSpace(f.Assignee)
	if f.Unresolved && f.Status != "" {
		return nil, fmt.Errorf("list alerts: %w: unresolved and status %q: choose one", ErrInvalid, f.Status)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return nil, fmt.Errorf("list alerts: %w: until %s is not after since %s", ErrInvalid, f.Until.Format(time.RFC3339), f.Since.Format(time.RFC3339))
	}
	if f.Limit < 0 || f.Before < 0 {
		return nil, fmt.Errorf("list alerts: %w: limit and before must not be negative", ErrInvalid)
	}
	if f.Limit == 0 {
		f.Limit = DefaultLimit
	}
	f.Limit = min(f.Limit, MaxLimit)
	f.Entity = strings.TrimSpace(f.Entity)
	return s.store.List(ctx, f)
}

// Records returns the records (and decisions) kept for an alert, oldest first.
func (s *Service) Records(ctx context.Context, id int64) ([]AlertRecord, error) {
	rs, err := s.store.Records(ctx, id)
	if err == nil && len(rs) == 0 {
		_, err = s.store.Get(ctx, id) // tell an unknown alert from an empty list
	}
	return rs, err
}

// Events returns an alert's audit trail, oldest first.
func (s *Service) Events(ctx context.Context, id int64) ([]Event, error) {
	es, err := s.store.Events(ctx, id)
	if err == nil && len(es) == 0 {
		_, err = s.store.Get(ctx, id)
	}
	return es, err
}
