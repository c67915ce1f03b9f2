package alert_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/decision"
)

// state builds an alert in one of the lifecycle's states.
type state struct {
	name  string
	setup func(t *testing.T, svc *alert.Service, id int64)
}

func do(t *testing.T, svc *alert.Service, id int64, a alert.Action) alert.Alert {
	t.Helper()
	out, err := svc.Apply(t.Context(), id, a)
	if err != nil {
		t.Fatalf("Apply(%d, %s): %v", id, a.Kind, err)
	}
	return out
}

var states = []state{
	{"open", func(*testing.T, *alert.Service, int64) {}},
	{"acknowledged", func(t *testing.T, svc *alert.Service, id int64) {
		do(t, svc, id, alert.Action{Kind: alert.ActAck, Actor: "ana"})
	}},
	{"resolved", func(t *testing.T, svc *alert.Service, id int64) {
		do(t, svc, id, alert.Action{Kind: alert.ActResolve, Actor: "ana", Resolution: alert.Benign})
	}},
	{"open assigned", func(t *testing.T, svc *alert.Service, id int64) {
		do(t, svc, id, alert.Action{Kind: alert.ActAssign, Actor: "ana", Assignee: "bo"})
	}},
	{"open snoozed", func(t *testing.T, svc *alert.Service, id int64) {
		do(t, svc, id, alert.Action{Kind: alert.ActSnooze, Actor: "ana", Until: newClock().Now().Add(time.Hour)})
	}},
}

// TestEveryTransition tries every action on every state: the legal ones
// change the alert and append their event; the illegal ones are a
// *TransitionError with the reason, and leave no trace.
func TestEveryTransition(t *testing.T) {
	later := newClock().Now().Add(2 * time.Hour)
	actions := map[alert.ActionKind]alert.Action{
		alert.ActAck:      {Kind: alert.ActAck, Actor: "cy", Comment: "on it"},
		alert.ActResolve:  {Kind: alert.ActResolve, Actor: "cy", Resolution: alert.TruePositive},
		alert.ActReopen:   {Kind: alert.ActReopen, Actor: "cy", Comment: "chargeback came in"},
		alert.ActAssign:   {Kind: alert.ActAssign, Actor: "cy", Assignee: "team:payments"},
		alert.ActUnassign: {Kind: alert.ActUnassign, Actor: "cy"},
		alert.ActComment:  {Kind: alert.ActComment, Actor: "cy", Comment: "customer called"},
		alert.ActSnooze:   {Kind: alert.ActSnooze, Actor: "cy", Until: later},
		alert.ActUnsnooze: {Kind: alert.ActUnsnooze, Actor: "cy"},
	}
	// What each action does from each state: "" is legal, else the reason.
	want := map[string]map[alert.ActionKind]string{
		"open": {
			alert.ActAck: "", alert.ActResolve: "", alert.ActReopen: "it is already open", alert.ActAssign: "",
			alert.ActUnassign: "it is not assigned", alert.ActComment: "", alert.ActSnooze: "", alert.ActUnsnooze: "it is not snoozed",
		},
		"acknowledged": {
			alert.ActAck: "it is already acknowledged", alert.ActResolve: "", alert.ActReopen: "it is acknowledged, not resolved",
			alert.ActAssign: "", alert.ActUnassign: "it is not assigned", alert.ActComment: "", alert.ActSnooze: "",
			alert.ActUnsnooze: "it is not snoozed",
		},
		"resolved": {
			alert.ActAck: "it is resolved", alert.ActResolve: "it is already resolved", alert.ActReopen: "",
			alert.ActAssign: "it is resolved", alert.ActUnassign: "it is resolved", alert.ActComment: "it is resolved",
			alert.ActSnooze: "it is resolved", alert.ActUnsnooze: "it is resolved",
		},
		"open assigned": {
			alert.ActAck: "", alert.ActResolve: "", alert.ActReopen: "it is already open", alert.ActAssign: "",
			alert.ActUnassign: "", alert.ActComment: "", alert.ActSnooze: "", alert.ActUnsnooze: "it is not snoozed",
		},
		"open snoozed": {
			alert.ActAck: "", alert.ActResolve: "", alert.ActReopen: "it is already open", alert.ActAssign: "",
			alert.ActUnassign: "it is not assigned", alert.ActComment: "", alert.ActSnooze: "", alert.ActUnsnooze: "",
		},
	}
	wantEvent := map[alert.ActionKind]alert.EventKind{
		alert.ActAck: alert.EventAcknowledged, alert.ActResolve: alert.EventResolved, alert.ActReopen: alert.EventReopened,
		alert.ActAssign: alert.EventAssigned, alert.ActUnassign: alert.EventUnassigned, alert.ActComment: alert.EventCommented,
		alert.ActSnooze: alert.EventSnoozed, alert.ActUnsnooze: alert.EventUnsnoozed,
	}
	for _, st := range states {
		for _, kind := range alert.ActionKinds() {
			t.Run(st.name+"/"+string(kind), func(t *testing.T) {
				svc, clk, _ := setup(t, alert.Options{})
				a := observe(t, svc, rec("t-1", t0, "c1"), hit("r", decision.High, "x", card("c1")))[0]
				st.setup(t, svc, a.ID)
				clk.Advance(time.Minute)
				before, _ := svc.Get(t.Context(), a.ID)
				nEvents := len(eventKinds(t, svc, a.ID))

				got, err := svc.Apply(t.Context(), a.ID, actions[kind])
				reason := want[st.name][kind]
				if reason != "" {
					var te *alert.TransitionError
					if !errors.As(err, &te) || te.Reason != reason || te.ID != a.ID || te.Action != kind || te.Status != before.Status {
						t.Fatalf("error = %v (%#v), want a TransitionError: %s", err, te, reason)
					}
					after, _ := svc.Get(t.Context(), a.ID)
					if after.Version != before.Version || len(eventKinds(t, svc, a.ID)) != nEvents {
						t.Errorf("a refused %s changed the alert: version %d → %d", kind, before.Version, after.Version)
					}
					return
				}
				if err != nil {
					t.Fatalf("Apply: %v", err)
				}
				kinds := eventKinds(t, svc, a.ID)
				if len(kinds) != nEvents+1 || kinds[len(kinds)-1] != wantEvent[kind] {
					t.Errorf("events = %v, want %s appended", kinds, wantEvent[kind])
				}
				if got.Version != before.Version+1 || got.UpdatedBy != "cy" || !got.UpdatedAt.Equal(clk.Now()) {
					t.Errorf("after %s: version %d (was %d), updated by %q at %v", kind, got.Version, before.Version, got.UpdatedBy, got.UpdatedAt)
				}
				checkEffect(t, kind, before, got, clk.Now(), later)
				if stored, _ := svc.Get(t.Context(), a.ID); !equalAlert(stored, got) {
					t.Errorf("stored %+v\nreturned %+v", stored, got)
				}
			})
		}
	}
}

func checkEffect(t *testing.T, kind alert.ActionKind, before, got alert.Alert, now, later time.Time) {
	t.Helper()
	ok := true
	switch kind {
	case alert.ActAck:
		ok = got.Status == alert.Acknowledged && got.AckedBy == "cy" && got.AckedAt.Equal(now) && got.Comment == "on it"
	case alert.ActResolve:
		ok = got.Status == alert.Resolved && got.Resolution == alert.TruePositive && got.ResolvedBy == "cy" &&
			got.ResolvedAt.Equal(now) && got.SnoozedUntil == nil
	case alert.ActReopen:
		ok = got.Status == alert.Open && got.Resolution == "" && got.ResolvedAt == nil && got.AckedAt == nil &&
			got.Comment == "chargeback came in"
	case alert.ActAssign:
		ok = got.Assignee == "team:payments" && got.Status == before.Status
	case alert.ActUnassign:
		ok = got.Assignee == "" && got.Status == before.Status
	case alert.ActComment:
		ok = got.Comment == "customer called" && got.Status == before.Status
	case alert.ActSnooze:
		ok = got.SnoozedUntil != nil && got.SnoozedUntil.Equal(later) && got.Snoozed(now)
	case alert.ActUnsnooze:
		ok = got.SnoozedUntil == nil && !got.Snoozed(now)
	}
	if !ok {
		t.Errorf("after %s from %s: %+v", kind, before.Status, got)
	}
}

func TestApplyRefusesMalformedActions(t *testing.T) {
	svc, clk, _ := setup(t, alert.Options{})
	a := observe(t, svc, rec("t-1", t0, "c1"), hit("r", decision.High, "x", card("c1")))[0]
	for _, tc := range []struct {
		act  alert.Action
		want string
	}{
		{alert.Action{Kind: "close", Actor: "ana"}, `action "close": want ack, resolve, reopen, assign, unassign, comment, snooze, unsnooze`},
		{alert.Action{Kind: alert.ActAck, Actor: " "}, "acknowledge alert 1: invalid: actor is required"},
		{alert.Action{Kind: alert.ActAck, Actor: "ana\n"}, ""}, // trimmed: fine
		{alert.Action{Kind: alert.ActAck, Actor: "a\x00b"}, "actor: at most 128 printable bytes"},
		{alert.Action{Kind: alert.ActAck, Actor: "ana", Resolution: alert.Benign}, "resolution is only for resolve"},
		{alert.Action{Kind: alert.ActAck, Actor: "ana", Assignee: "bo"}, "assignee is only for assign"},
		{alert.Action{Kind: alert.ActAck, Actor: "ana", Until: clk.Now().Add(time.Hour)}, "until is only for snooze"},
		{alert.Action{Kind: alert.ActAck, Actor: "ana", Version: -1}, "version -1"},
		{alert.Action{Kind: alert.ActAck, Actor: "ana", Comment: strings.Repeat("x", 4001)}, "comment: 4001 bytes, at most 4000"},
		{alert.Action{Kind: alert.ActResolve, Actor: "ana"}, "resolution is required"},
		{alert.Action{Kind: alert.ActResolve, Actor: "ana", Resolution: "fixed"}, `resolution "fixed": want true_positive`},
		{alert.Action{Kind: alert.ActAssign, Actor: "ana"}, `assignee is required: a person, or "team:<name>"`},
		{alert.Action{Kind: alert.ActAssign, Actor: "ana", Assignee: "team: "}, `assignee "team:" names no team`},
		{alert.Action{Kind: alert.ActComment, Actor: "ana", Comment: "  "}, "comment on alert 1: invalid: comment is required"},
		{alert.Action{Kind: alert.ActSnooze, Actor: "ana"}, "until is required"},
		{alert.Action{Kind: alert.ActSnooze, Actor: "ana", Until: clk.Now()}, "is not in the future"},
	} {
		_, err := svc.Apply(t.Context(), a.ID, tc.act)
		if tc.want == "" {
			if err != nil {
				t.Errorf("Apply(%+v) = %v, want success", tc.act, err)
			}
			continue
		}
		if !errors.Is(err, alert.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Apply(%+v) error = %v, want ErrInvalid containing %q", tc.act, err, tc.want)
		}
	}
	if _, err := svc.Apply(t.Context(), 99, alert.Action{Kind: alert.ActAck, Actor: "ana"}); !errors.Is(err, alert.ErrNotFound) {
		t.Errorf("Apply on a missing alert: %v, want ErrNotFound", err)
	}
}

// Reopening is refused while another alert for the same rule and entity is
// unresolved: the fingerprint allows one.
func TestReopenRefusedWhileFingerprintTaken(t *testing.T) {
	svc, _, _ := setup(t, alert.Options{})
	h := hit("r", decision.High, "x", card("c1"))
	first := observe(t, svc, rec("t-1", t0, "c1"), h)[0]
	do(t, svc, first.ID, alert.Action{Kind: alert.ActResolve, Actor: "ana", Resolution: alert.FalsePositive})
	second := observe(t, svc, rec("t-2", t0, "c1"), h)[0]
	_, err := svc.Apply(t.Context(), first.ID, alert.Action{Kind: alert.ActReopen, Actor: "ana"})
	var te *alert.TransitionError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), fmt.Sprintf("cannot reopen alert %d: alert %d is open for the same rule and entity", first.ID, second.ID)) {
		t.Fatalf("reopen = %v, want a TransitionError naming alert %d", err, second.ID)
	}
	do(t, svc, second.ID, alert.Action{Kind: alert.ActResolve, Actor: "ana", Resolution: alert.Duplicate})
	if got := do(t, svc, first.ID, alert.Action{Kind: alert.ActReopen, Actor: "ana"}); got.Status != alert.Open {
		t.Errorf("reopen once free: %+v", got)
	}
}

func TestStaleVersion(t *testing.T) {
	svc, _, _ := setup(t, alert.Options{})
	ctx := t.Context()
	a := observe(t, svc, rec("t-1", t0, "c1"), hit("r", decision.High, "x", card("c1")))[0]
	seen := a.Version // 1

	// A repeated hit bumps the version but is no reason to refuse.
	observe(t, svc, rec("t-2", t0, "c1"), hit("r", decision.High, "x", card("c1")))
	assigned := do(t, svc, a.ID, alert.Action{Kind: alert.ActAssign, Actor: "bob", Assignee: "bob", Version: seen})
	if assigned.Version != 3 {
		t.Fatalf("version after repeat and assign = %d, want 3", assigned.Version)
	}

	// An action on what the actor saw before bob's assignment is stale.
	_, err := svc.Apply(ctx, a.ID, alert.Action{Kind: alert.ActAck, Actor: "ana", Version: seen})
	var ce *alert.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, alert.ErrConflict) ||
		!strings.Contains(err.Error(), "alert 1 changed since version 1 (now 3) by bob") {
		t.Fatalf("stale ack = %v, want a ConflictError naming bob", err)
	}
	// A version from the future is no version the actor saw.
	if _, err := svc.Apply(ctx, a.ID, alert.Action{Kind: alert.ActAck, Actor: "ana", Version: 9}); !errors.As(err, &ce) {
		t.Errorf("ack with version 9 = %v, want a ConflictError", err)
	}
	if got := do(t, svc, a.ID, alert.Action{Kind: alert.ActAck, Actor: "ana", Version: assigned.Version}); got.Status != alert.Acknowledged {
		t.Errorf("ack on the current version: %+v", got)
	}
}

// Two analysts act on the version they both saw, from two processes: one
// wins, the other is told who changed it.
func TestConcurrentActionsOneWins(t *testing.T) {
	svc, _, path := setup(t, alert.Options{})
	other := newService(t, openDB(t, path), alert.Options{Now: newClock().Now})
	for round := range 5 {
		a := observe(t, svc, rec(fmt.Sprint("t-", round), t0, fmt.Sprint("c", round)), hit("r", decision.High, "x", card(fmt.Sprint("c", round))))[0]
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, 2)
		for i, s := range []*alert.Service{svc, other} {
			actor := []string{"ana", "bob"}[i]
			wg.Go(func() {
				<-start
				_, errs[i] = s.Apply(context.Background(), a.ID, alert.Action{Kind: alert.ActResolve, Actor: actor,
					Resolution: alert.TruePositive, Version: a.Version})
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for i, err := range errs {
			var ce *alert.ConflictError
			switch {
			case err == nil:
				won++
			case errors.As(err, &ce):
				winner := []string{"bob", "ana"}[i]
				if ce.Seen != 1 || ce.Current != 2 || ce.By != winner {
					t.Errorf("round %d: conflict %+v, want seen 1, now 2, by %s", round, ce, winner)
				}
			default:
				t.Errorf("round %d: %v, want success or a ConflictError", round, err)
			}
		}
		if won != 1 {
			t.Errorf("round %d: %d actions won, want exactly 1 (%v)", round, won, errs)
		}
		if kinds := eventKinds(t, svc, a.ID); len(kinds) != 2 {
			t.Errorf("round %d: events %v, want raised and one resolved", round, kinds)
		}
	}
}

func TestApplyMany(t *testing.T) {
	svc, _, _ := setup(t, alert.Options{})
	ctx := t.Context()
	var ids []int64
	for i := range 4 {
		c := fmt.Sprint("c", i)
		ids = append(ids, observe(t, svc, rec("t-"+c, t0, c), hit("r", decision.High, "x", card(c)))[0].ID)
	}
	do(t, svc, ids[1], alert.Action{Kind: alert.ActAck, Actor: "ana"})
	do(t, svc, ids[2], alert.Action{Kind: alert.ActResolve, Actor: "ana", Resolution: alert.Benign})

	res, err := svc.ApplyMany(ctx, append(ids, 99, 0), alert.Action{Kind: alert.ActAck, Actor: "bo", Comment: "batch"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 6 {
		t.Fatalf("%d results, want 6", len(res))
	}
	var te *alert.TransitionError
	checks := []struct {
		ok   func(alert.BulkResult) bool
		want string
	}{
		{func(r alert.BulkResult) bool {
			return r.Err == nil && r.Alert.Status == alert.Acknowledged && r.Alert.AckedBy == "bo"
		}, "acknowledged"},
		{func(r alert.BulkResult) bool {
			return errors.As(r.Err, &te) && te.Reason == "it is already acknowledged"
		}, "already acknowledged"},
		{func(r alert.BulkResult) bool { return errors.As(r.Err, &te) && te.Reason == "it is resolved" }, "refused: resolved"},
		{func(r alert.BulkResult) bool { return r.Err == nil && r.Alert.Comment == "batch" }, "acknowledged"},
		{func(r alert.BulkResult) bool { return errors.Is(r.Err, alert.ErrNotFound) }, "not found"},
		{func(r alert.BulkResult) bool { return errors.Is(r.Err, alert.ErrInvalid) }, "invalid id"},
	}
	for i, c := range checks {
		if res[i].ID != append(ids, 99, 0)[i] || !c.ok(res[i]) {
			t.Errorf("result %d = %+v, want %s", i, res[i], c.want)
		}
	}

	for _, tc := range []struct {
		ids  []int64
		act  alert.Action
		want string
	}{
		{nil, alert.Action{Kind: alert.ActAck, Actor: "bo"}, "at least one alert"},
		{make([]int64, alert.MaxBulk+1), alert.Action{Kind: alert.ActAck, Actor: "bo"}, "at most 1000"},
		{ids, alert.Action{Kind: alert.ActAck, Actor: "bo", Version: 2}, "a bulk action takes none"},
		{ids, alert.Action{Kind: alert.ActResolve, Actor: "bo"}, "resolution is required"},
	} {
		if _, err := svc.ApplyMany(ctx, tc.ids, tc.act); !errors.Is(err, alert.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ApplyMany(%d ids, %+v) = %v, want ErrInvalid: %s", len(tc.ids), tc.act, err, tc.want)
		}
	}
}

func TestListHandlingFilters(t *testing.T) {
	svc, clk, _ := setup(t, alert.Options{})
	ctx := t.Context()
	for i := range 4 {
		c := fmt.Sprint("c", i)
		observe(t, svc, rec("t-"+c, t0, c), hit("r", decision.High, "x", card(c)))
		clk.Advance(time.Hour)
	}
	// ids 1..4 raised at 12:00, 13:00, 14:00, 15:00; alert 1 hit again at 16:00.
	observe(t, svc, rec("t-again", t0, "c0"), hit("r", decision.High, "x", card("c0")))
	do(t, svc, 2, alert.Action{Kind: alert.ActAssign, Actor: "ana", Assignee: "team:payments"})
	do(t, svc, 3, alert.Action{Kind: alert.ActResolve, Actor: "ana", Resolution: alert.Benign})
	start := newClock().Now()
	for _, tc := range []struct {
		name string
		f    alert.Filter
		want string
	}{
		{"assignee", alert.Filter{Assignee: "team:payments"}, "[2]"},
		{"unassigned", alert.Filter{Assignee: "-"}, "[4 3 1]"},
		{"unresolved", alert.Filter{Unresolved: true}, "[4 2 1]"},
		{"since", alert.Filter{Since: start.Add(2 * time.Hour)}, "[4 3]"},
		{"until", alert.Filter{Until: start.Add(2 * time.Hour)}, "[2 1]"},
		{"quiet", alert.Filter{QuietSince: start.Add(150 * time.Minute)}, "[3 2]"},
	} {
		as, err := svc.List(ctx, tc.f)
		var ids []int64
		for _, a := range as {
			ids = append(ids, a.ID)
		}
		if err != nil || fmt.Sprint(ids) != tc.want {
			t.Errorf("%s: List = %v, %v; want %s", tc.name, ids, err, tc.want)
		}
	}
	if _, err := svc.List(ctx, alert.Filter{Unresolved: true, Status: alert.Open}); !errors.Is(err, alert.ErrInvalid) {
		t.Errorf("unresolved with a status: %v, want ErrInvalid", err)
	}
}
