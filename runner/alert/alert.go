// Package alert turns decisions into alerts and carries them through their
// life: one alert per rule and entity (the fingerprint) while it is not
// resolved, repeats counted on it, open → acknowledged → resolved with a
// resolution, and an audit event for every change. The events double as the
// outbox feed that notify tails.
//
// The Service holds the rules; a Store (alert/sqlite) holds the rows.
package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/vigil-risk/vigil/runner/decision"
)

// Status is where an alert is in its lifecycle.
type Status string

const (
	Open         Status = "open"
	Acknowledged Status = "acknowledged"
	Resolved     Status = "resolved"
)

func (s Status) valid() bool { return s == Open || s == Acknowledged || s == Resolved }

// Resolution labels a resolved alert; labels flow back as ground truth.
type Resolution string

const (
	TruePositive  Resolution = "true_positive"
	FalsePositive Resolution = "false_positive"
	Benign        Resolution = "benign"
	Duplicate     Resolution = "duplicate"
)

func (r Resolution) valid() bool {
	switch r {
	case TruePositive, FalsePositive, Benign, Duplicate:
		return true
	}
	return false
}

// Alert is one rule firing on one entity, for as long as it is not resolved.
type Alert struct {
	ID             int64             `json:"id"`
	Fingerprint    string            `json:"fingerprint"`
	Rule           string            `json:"rule"`
	Title          string            `json:"title"`
	Severity       decision.Severity `json:"severity"`
	Action         decision.Action   `json:"action"`
	Entity         decision.Entity   `json:"entity"`
	Status         Status            `json:"status"`
	Resolution     Resolution        `json:"resolution,omitempty"`
	Reason         string            `json:"reason"`         // of the latest hit
	LastRecordID   string            `json:"last_record_id"` // the latest record that hit
	Count          int               `json:"count"`          // hits folded into this alert
	FirstSeen      time.Time         `json:"first_seen"`     // earliest event time of its records
	LastSeen       time.Time         `json:"last_seen"`      // latest event time of its records
	CreatedAt      time.Time         `json:"created_at"`     // wall time
	UpdatedAt      time.Time         `json:"updated_at"`     // wall time
	PolicyRevision string            `json:"policy_revision,omitempty"`
	Owner          string            `json:"owner,omitempty"`
	Runbook        string            `json:"runbook,omitempty"`
	Tags           []string          `json:"tags,omitempty"`
	AckedBy        string            `json:"acked_by,omitempty"`
	AckedAt        *time.Time        `json:"acked_at,omitempty"`
	ResolvedBy     string            `json:"resolved_by,omitempty"`
	ResolvedAt     *time.Time        `json:"resolved_at,omitempty"`
	Comment        string            `json:"comment,omitempty"` // the latest ack/resolve comment
	Version        int               `json:"version"`           // bumped on every change
}

// EventKind names a change to an alert.
type EventKind string

const (
	EventRaised       EventKind = "raised"
	EventRepeated     EventKind = "repeated"
	EventAcknowledged EventKind = "acknowledged"
	EventResolved     EventKind = "resolved"
)

// Event is one change to an alert: the audit trail, and (raised, resolved)
// the feed notify fans out. Data is the alert as it was right after the
// change, except for repeated, where it is a RepeatData.
type Event struct {
	ID      int64           `json:"id"`
	AlertID int64           `json:"alert_id"`
	Kind    EventKind       `json:"kind"`
	Actor   string          `json:"actor"`
	Time    time.Time       `json:"time"` // wall time
	Comment string          `json:"comment,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// RepeatData is the Data of a repeated event: what the new hit brought.
type RepeatData struct {
	RecordID string `json:"record_id"`
	Reason   string `json:"reason"`
	Count    int    `json:"count"`
}

// SystemActor is the actor of the changes Vigil makes itself.
const SystemActor = "vigil"

// AlertRecord is one record that hit the alert's rule, with its decision.
// The store keeps the latest Options.KeepRecords of them per alert.
type AlertRecord struct {
	ID       int64           `json:"id"`
	AlertID  int64           `json:"alert_id"`
	RecordID string          `json:"record_id"`
	Time     time.Time       `json:"ts"`       // the record's event time
	Fields   json.RawMessage `json:"record"`   // the normalised record
	Decision json.RawMessage `json:"decision"` // the whole decision made on it
	AddedAt  time.Time       `json:"added_at"` // wall time
}

// RuleInfo is what a rule's metadata adds to the alerts it raises.
type RuleInfo struct {
	Owner   string
	Runbook string
	Tags    []string
}

// Filter selects alerts for List; zero fields match everything.
type Filter struct {
	Status   Status
	Rule     string
	Severity decision.Severity
	Entity   string // "field=value", or a bare value matching any field
	Limit    int    // 0 means DefaultLimit; at most MaxLimit
	Before   int64  // only alerts with a smaller ID: the cursor of the next page
}

const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Fingerprint identifies what an alert is about: the rule and the entity.
// It is stable across runs, versions and machines.
func Fingerprint(rule string, e decision.Entity) string {
	h := sha256.New()
	h.Write([]byte(rule))
	h.Write([]byte{0})
	h.Write([]byte(e.Field))
	h.Write([]byte{0})
	h.Write([]byte(e.Value))
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}
