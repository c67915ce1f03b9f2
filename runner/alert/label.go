package alert

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"time"

	"github.com/vigil-risk/vigil/runner/record"
)

// LabelType is the record type of ground-truth labels (pipeline.LabelType).
const LabelType = "label"

// Fraud is what a resolution says about the alert's records as ground
// truth: true_positive is fraud, false_positive and benign are not, and
// duplicate says nothing (ok false).
func (r Resolution) Fraud() (fraud, ok bool) {
	switch r {
	case TruePositive:
		return true, true
	case FalsePositive, Benign:
		return false, true
	}
	return false, false
}

// LabelRecord is the label an analyst's resolution gives an alert, as the
// features take labels (DESIGN: labels are records): the fields of the
// alert's latest record, with id "label:alert:<id>" (so that a second
// resolution of the same alert is a duplicate the features ignore), type
// label, fraud, ts = at (when the label was made) and event_ts = the time
// of that record. ok is false for a resolution that labels nothing.
func LabelRecord(a *Alert, last *AlertRecord, at time.Time) (record.Record, bool) {
	fraud, ok := a.Resolution.Fraud()
	if !ok {
		return record.Record{}, false
	}
	fields := map[string]any{}
	event := a.LastSeen
	if last != nil {
		if err := json.Unmarshal(last.Fields, &fields); err != nil || fields == nil {
			fields = map[string]any{}
		}
		event = last.Time
	}
	if a.Entity.Field != "" && a.Entity.Field != "id" {
		fields[a.Entity.Field] = a.Entity.Value
	}
	id := "label:alert:" + strconv.FormatInt(a.ID, 10)
	at = at.UTC()
	fields["id"], fields["type"], fields["fraud"] = id, LabelType, fraud
	fields["ts"], fields["event_ts"] = record.FormatTime(at), record.FormatTime(event.UTC())
	return record.Record{ID: id, Type: LabelType, Time: at, Fields: fields}, true
}

// label hands a resolved alert's label record to OnLabel. A missing record
// only weakens the label (the alert's entity is still in it).
func (s *Service) label(ctx context.Context, a *Alert) {
	if s.onLabel == nil || a.Resolution == Benign || a.Resolution == Duplicate {
		return // the features learn from analysts' true and false positives
	}
	var last *AlertRecord
	recs, err := s.store.Records(ctx, a.ID)
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "alert label: reading its records failed; labelling the entity alone",
			slog.Int64("alert", a.ID), slog.String("err", err.Error()))
	} else if len(recs) > 0 {
		last = &recs[len(recs)-1]
	}
	at := s.now()
	if a.ResolvedAt != nil {
		at = *a.ResolvedAt
	}
	if rec, ok := LabelRecord(a, last, at); ok {
		s.onLabel(ctx, rec)
	}
}
