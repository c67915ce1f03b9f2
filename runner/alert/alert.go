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
	Comment        string            `json:"comment,omitempty"` // the latest comment of an action
	Version        int               `json:"version"`           // bumped on every change

	Assignee     string     `json:"assignee,omitempty"`      // a person, or "team:<name>"
	SnoozedUntil *time.Time `json:"snoozed_until,omitempty"` // escalation and auto-resolve wait until then
	UpdatedBy    string     `json:"updated_by,omitempty"`    // the actor of the latest action
	// Downgraded: the blast-radius guard stopped its rule's auto-actions, so
	// this alert asks for review (Action) instead of what its hit asked.
	Downgraded      bool `json:"downgraded,omitempty"`
	EscalationLevel int  `json:"escalation_level,omitempty"` // the highest level reached since it was (re)opened
	Escalations     int  `json:"escalations,omitempty"`      // escalation notices since it was (re)opened
	// HandledVersion is the Version right after the latest action: an
	// action based on an older version is stale (see Service.Apply).
	HandledVersion int `json:"-"`
}

// EventKind names a change to an alert.
type EventKind string

const (
	EventRaised       EventKind = "raised"
	EventRepeated     EventKind = "repeated"
	EventAcknowledged EventKind = "acknowledged"
	EventResolved     EventKind = "resolved"
	EventReopened     EventKind = "reopened"
	EventAssigned     EventKind = "assigned"
	EventUnassigned   EventKind = "unassigned"
	EventCommented    EventKind = "commented"
	EventSnoozed      EventKind = "snoozed"
	EventUnsnoozed    EventKind = "unsnoozed"
	// Vigil's own handling.
	EventEscalated    EventKind = "escalated"     // Data: a NoticeData; notify tells its receivers
	EventDowngraded   EventKind = "downgraded"    // the blast-radius guard stopped its auto-actions
	EventAutoAction   EventKind = "auto_action"   // Data: an AutoActionData, an auto-action's outcome
	EventGuardTripped EventKind = "guard_tripped" // Data: a NoticeData; notify tells on-call
)

// Event is one change to an alert: the audit trail, and (raised, resolved,
// reopened, escalated, guard_tripped) the feed notify fans out. Data is the
// alert as it was right after the change, except for repeated (RepeatData),
// auto_action (AutoActionData), escalated and guard_tripped (NoticeData).
//
// Events are append-only and chained: Hash is the SHA-256 of the event's
// canonical encoding and PrevHash, the Hash of the event before it (see
// ChainHash), so that editing or deleting one breaks the chain.
type Event struct {
	ID       int64           `json:"id"`
	AlertID  int64           `json:"alert_id"`
	Kind     EventKind       `json:"kind"`
	Actor    string          `json:"actor"`
	Time     time.Time       `json:"time"` // wall time
	Comment  string          `json:"comment,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	PrevHash string          `json:"prev_hash,omitempty"`
	Hash     string          `json:"hash,omitempty"`
}

// NoticeData is the Data of an event that names receivers to tell at once
// (escalated, guard_tripped): the alert as it was, and the notice.
type NoticeData struct {
	Alert
	Notice Notice `json:"notice"`
}

// Notice asks notify to tell receivers about an alert now, bypassing the
// routing tree: an escalation names its receivers.
type Notice struct {
	Receivers []string          `json:"receivers"`
	Labels    map[string]string `json:"labels,omitempty"` // added to the alert's labels, e.g. escalation_level
	Summary   string            `json:"summary,omitempty"`
}

// AutoActionData is the Data of an auto_action event: what became of one
// call to an action endpoint.
type AutoActionData struct {
	Action         string `json:"action"`
	Status         string `json:"status"` // succeeded, failed, skipped, suppressed
	Attempts       int    `json:"attempts,omitempty"`
	HTTPStatus     int    `json:"http_status,omitempty"`
	Error          string `json:"error,omitempty"`
	Response       string `json:"response,omitempty"` // the endpoint's reply, trimmed
	IdempotencyKey string `json:"idempotency_key,omitempty"`
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
	Entity   string    // "field=value", or a bare value matching any field
	Assignee string    // a person or "team:<name>"; "-" for unassigned alerts
	Since    time.Time // raised at or after (wall time)
	Until    time.Time // raised before (wall time)
	// Unresolved selects open and acknowledged alerts (with Status empty).
	Unresolved bool
	// QuietSince selects alerts with no hit (raise or repeat, wall time) after it.
	QuietSince time.Time
	Limit      int   // 0 means DefaultLimit; at most MaxLimit
	Before     int64 // only alerts with a smaller ID: the cursor of the next page
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
