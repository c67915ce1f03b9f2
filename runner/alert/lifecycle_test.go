package alert_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/decision"
)

func TestAckThenResolve(t *testing.T) {
	kicks := 0
	svc, clk, _ := setup(t, alert.Options{Kick: func() { kicks++ }})
	ctx := t.Context()
	h := hit("card_testing", decision.High, "x", card("c1"))
	a := observe(t, svc, rec("t-1", t0, "c1"), h)[0]

	clk.Advance(time.Minute)
	ackAt := clk.Now()
	acked, err := svc.Ack(ctx, a.ID, " ana ", "looking")
	if err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if acked.Status != alert.Acknowledged || acked.AckedBy != "ana" || acked.AckedAt == nil || !acked.AckedAt.Equal(ackAt) ||
		acked.Comment != "looking" || acked.Version != 2 || !acked.UpdatedAt.Equal(ackAt) {
		t.Errorf("after Ack = %+v", acked)
	}

	// An acknowledged alert still absorbs repeats.
	if again := observe(t, svc, rec("t-2", t0, "c1"), h)[0]; again.ID != a.ID || again.Status != alert.Acknowledged || again.Count != 2 {
		t.Errorf("repeat while acknowledged = %+v", again)
	}

	clk.Advance(time.Minute)
	resolveAt := clk.Now()
	resolved, err := svc.Resolve(ctx, a.ID, "bo", alert.FalsePositive, "")
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if resolved.Status != alert.Resolved || resolved.Resolution != alert.FalsePositive || resolved.ResolvedBy != "bo" ||
		resolved.ResolvedAt == nil || !resolved.ResolvedAt.Equal(resolveAt) || resolved.AckedBy != "ana" ||
		resolved.Comment != "looking" || resolved.Version != 4 || resolved.Count != 2 {
		t.Errorf("after Resolve = %+v", resolved)
	}
	stored, err := svc.Get(ctx, a.ID)
	if err != nil || !equalAlert(stored, resolved) {
		t.Errorf("Get = %+v, %v; want what Resolve returned %+v", stored, err, resolved)
	}
	if kicks != 2 {
		t.Errorf("Kick called %d times, want 2 (raise, resolve)", kicks)
	}
	// Resolving straight from open is allowed too.
	b := observe(t, svc, rec("t-9", t0, "c9"), hit("r", decision.High, "x", card("c9")))[0]
	if _, err := svc.Resolve(ctx, b.ID, "bo", alert.Duplicate, "dup of 1"); err != nil {
		t.Errorf("Resolve from open: %v", err)
	}
}

func TestAuditTrail(t *testing.T) {
	svc, clk, _ := setup(t, alert.Options{})
	ctx := t.Context()
	h := hit("card_testing", decision.High, "first reason", card("c1"))
	a := observe(t, svc, rec("t-1", t0, "c1"), h)[0]
	clk.Advance(time.Second)
	h.Reason = "second reason"
	observe(t, svc, rec("t-2", t0, "c1"), h)
	clk.Advance(time.Second)
	if _, err := svc.Ack(ctx, a.ID, "ana", "on it"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if _, err := svc.Resolve(ctx, a.ID, "bo", alert.TruePositive, "card blocked"); err != nil {
		t.Fatal(err)
	}
	// A refused change leaves no trace.
	if _, err := svc.Ack(ctx, a.ID, "cy", ""); err == nil {
		t.Fatal("Ack of a resolved alert succeeded")
	}

	es, err := svc.Events(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		kind    alert.EventKind
		actor   string
		comment string
		at      time.Time
	}
	var got []row
	for _, e := range es {
		if e.AlertID != a.ID {
			t.Errorf("event %d belongs to alert %d", e.ID, e.AlertID)
		}
		got = append(got, row{e.Kind, e.Actor, e.Comment, e.Time})
	}
	start := newClock().Now()
	want := []row{
		{alert.EventRaised, alert.SystemActor, "", start},
		{alert.EventRepeated, alert.SystemActor, "", start.Add(time.Second)},
		{alert.EventAcknowledged, "ana", "on it", start.Add(2 * time.Second)},
		{alert.EventResolved, "bo", "card blocked", start.Add(3 * time.Second)},
	}
	if !slices.EqualFunc(got, want, func(a, b row) bool {
		return a.kind == b.kind && a.actor == b.actor && a.comment == b.comment && a.at.Equal(b.at)
	}) {
		t.Fatalf("events =\n%v\nwant\n%v", got, want)
	}

	// Lifecycle events carry the alert as it was right after the change.
	var raised, resolved alert.Alert
	if err := json.Unmarshal(es[0].Data, &raised); err != nil || raised.ID != a.ID || raised.Status != alert.Open || raised.Count != 1 || raised.Reason != "first reason" {
		t.Errorf("raised data = %s (%v)", es[0].Data, err)
	}
	var repeat alert.RepeatData
	if err := json.Unmarshal(es[1].Data, &repeat); err != nil || repeat != (alert.RepeatData{RecordID: "t-2", Reason: "second reason", Count: 2}) {
		t.Errorf("repeated data = %s (%v)", es[1].Data, err)
	}
	if err := json.Unmarshal(es[3].Data, &resolved); err != nil || resolved.Status != alert.Resolved || resolved.Resolution != alert.TruePositive || resolved.Version != 4 {
		t.Errorf("resolved data = %s (%v)", es[3].Data, err)
	}
}

func TestIllegalTransitions(t *testing.T) {
	svc, _, _ := setup(t, alert.Options{})
	ctx := t.Context()
	open := observe(t, svc, rec("t-1", t0, "c1"), hit("r", decision.High, "x", card("c1")))[0]
	acked := observe(t, svc, rec("t-2", t0, "c2"), hit("r", decision.High, "x", card("c2")))[0]
	resolved := observe(t, svc, rec("t-3", t0, "c3"), hit("r", decision.High, "x", card("c3")))[0]
	if _, err := svc.Ack(ctx, acked.ID, "ana", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Resolve(ctx, resolved.ID, "ana", alert.Benign, ""); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name       string
		do         func() (alert.Alert, error)
		transition bool // *TransitionError, else ErrInvalid
		want       string
	}{
		{"ack resolved", func() (alert.Alert, error) { return svc.Ack(ctx, resolved.ID, "bo", "") },
			true, "cannot acknowledge alert 3: it is resolved"},
		{"ack twice", func() (alert.Alert, error) { return svc.Ack(ctx, acked.ID, "bo", "") },
			true, "cannot acknowledge alert 2: it is already acknowledged"},
		{"resolve twice", func() (alert.Alert, error) { return svc.Resolve(ctx, resolved.ID, "bo", alert.TruePositive, "") },
			true, "cannot resolve alert 3: it is already resolved"},
		{"ack without actor", func() (alert.Alert, error) { return svc.Ack(ctx, open.ID, "  ", "") },
			false, "acknowledge alert 1: invalid: actor is required"},
		{"resolve without actor", func() (alert.Alert, error) { return svc.Resolve(ctx, open.ID, "", alert.Benign, "") },
			false, "resolve alert 1: invalid: actor is required"},
		{"resolve without resolution", func() (alert.Alert, error) { return svc.Resolve(ctx, open.ID, "bo", "", "") },
			false, "resolution is required"},
		{"resolve with bad resolution", func() (alert.Alert, error) { return svc.Resolve(ctx, open.ID, "bo", "fixed", "") },
			false, `resolution "fixed": want true_positive, false_positive, benign or duplicate`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.do()
			if err == nil {
				t.Fatal("succeeded, want an error")
			}
			var te *alert.TransitionError
			if tc.transition != errors.As(err, &te) || !tc.transition != errors.Is(err, alert.ErrInvalid) {
				t.Errorf("error %v (%T): want transition=%v", err, err, tc.transition)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to contain %q", err, tc.want)
			}
		})
	}
	// Nothing changed: versions and event counts are where they were.
	for id, want := range map[int64]int{open.ID: 1, acked.ID: 2, resolved.ID: 2} {
		a, err := svc.Get(ctx, id)
		if err != nil || a.Version != want || len(eventKinds(t, svc, id)) != want {
			t.Errorf("alert %d: version %d, err %v; want version %d and as many events", id, a.Version, err, want)
		}
	}
}
