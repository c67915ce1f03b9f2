package alert

import (
	"encoding/json"
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
