package alert

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// The lifecycle as a state machine: each ActionKind starts from some
// statuses, may need more of the alert (an assignee to take away), and makes
// one change recorded as one event.
//
//	open ──ack──► acknowledged ──resolve──► resolved ──reopen──► open
//	  └──────────────resolve──────────────────┘
//
// assign, unassign, comment, snooze and unsnooze keep the status and apply to
// open and acknowledged alerts.
type transition struct {
	event  EventKind
	from   []Status
	target Status // the status it moves to; "" when it keeps the status
	// validate checks the action alone (no alert yet): "" or what is wrong.
	validate func(a *Action, now time.Time) string
	// check refuses it for this alert's state: "" or why (beyond the status).
	check func(al *Alert, a *Action, now time.Time) string
	apply func(al *Alert, a *Action, now time.Time)
}

var active = []Status{Open, Acknowledged}

var transitions = map[ActionKind]transition{
	ActAck: {event: EventAcknowledged, from: []Status{Open}, target: Acknowledged,
		apply: func(al *Alert, a *Action, now time.Time) {
			al.Status, al.AckedBy, al.AckedAt = Acknowledged, a.Actor, &now
		}},
	ActResolve: {event: EventResolved, from: active, target: Resolved,
		validate: func(a *Action, _ time.Time) string {
			switch {
			case a.Resolution == "":
				return "resolution is required (true_positive, false_positive, benign or duplicate)"
			case !a.Resolution.valid():
				return `resolution "` + string(a.Resolution) + `": want true_positive, false_positive, benign or duplicate`
			}
			return ""
		},
		apply: func(al *Alert, a *Action, now time.Time) {
			al.Status, al.Resolution, al.ResolvedBy, al.ResolvedAt = Resolved, a.Resolution, a.Actor, &now
			al.SnoozedUntil = nil
		}},
	ActReopen: {event: EventReopened, from: []Status{Resolved}, target: Open,
		apply: func(al *Alert, _ *Action, _ time.Time) {
			al.Status, al.Resolution, al.ResolvedBy, al.ResolvedAt = Open, "", "", nil
			al.AckedBy, al.AckedAt = "", nil
			al.EscalationLevel, al.Escalations = 0, 0 // escalation starts over
		}},
	ActAssign: {event: EventAssigned, from: active,
		validate: func(a *Action, _ time.Time) string {
			switch name, team := strings.CutPrefix(a.Assignee, "team:"); {
			case a.Assignee == "":
				return `assignee is required: a person, or "team:<name>"`
			case len(a.Assignee) > MaxAssigneeBytes || hasControl(a.Assignee):
				return "assignee: at most " + strconv.Itoa(MaxAssigneeBytes) + " printable bytes"
			case team && strings.TrimSpace(name) == "":
				return `assignee "team:" names no team`
			}
			return ""
		},
		check: func(al *Alert, a *Action, _ time.Time) string {
			if al.Assignee == a.Assignee {
				return "it is already assigned to " + a.Assignee
			}
			return ""
		},
		apply: func(al *Alert, a *Action, _ time.Time) { al.Assignee = a.Assignee }},
	ActUnassign: {event: EventUnassigned, from: active,
		check: func(al *Alert, _ *Action, _ time.Time) string {
			if al.Assignee == "" {
				return "it is not assigned"
			}
			return ""
		},
		apply: func(al *Alert, _ *Action, _ time.Time) { al.Assignee = "" }},
	ActComment: {event: EventCommented, from: active,
		validate: func(a *Action, _ time.Time) string {
			if a.Comment == "" {
				return "comment is required"
			}
			return ""
		},
		apply: func(*Alert, *Action, time.Time) {}},
	ActSnooze: {event: EventSnoozed, from: active,
		validate: func(a *Action, now time.Time) string {
			switch {
			case a.Until.IsZero():
				return "until is required: when the snooze ends"
			case !a.Until.After(now):
				return "until " + a.Until.UTC().Format(time.RFC3339) + " is not in the future"
			}
			return ""
		},
		apply: func(al *Alert, a *Action, _ time.Time) {
			until := a.Until.UTC()
			al.SnoozedUntil = &until
		}},
	ActUnsnooze: {event: EventUnsnoozed, from: active,
		check: func(al *Alert, _ *Action, now time.Time) string {
			if !al.Snoozed(now) {
				return "it is not snoozed"
			}
			return ""
		},
		apply: func(al *Alert, _ *Action, _ time.Time) { al.SnoozedUntil = nil }},
}

// refuse says why the transition cannot start from this alert, or "".
func (t *transition) refuse(al *Alert, a *Action, now time.Time) string {
	if !slices.Contains(t.from, al.Status) {
		if al.Status == t.target {
			return "it is already " + string(al.Status)
		}
		if t.target == Open {
			return "it is " + string(al.Status) + ", not resolved"
		}
		return "it is " + string(al.Status)
	}
	if t.check != nil {
		return t.check(al, a, now)
	}
	return ""
}

// Snoozed reports whether the alert is snoozed at now.
func (a *Alert) Snoozed(now time.Time) bool {
	return a.SnoozedUntil != nil && a.SnoozedUntil.After(now)
}
