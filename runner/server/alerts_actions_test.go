package server_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/record"
	"github.com/vigil-risk/vigil/runner/server"
	"github.com/vigil-risk/vigil/runner/server/auth"
)

// actionReply is the body of a lifecycle action: the alert after it, or
// why it was refused.
type actionReply struct {
	alert.Alert
	Error          string `json:"error"`
	Reason         string `json:"reason"`
	CurrentVersion int    `json:"current_version"`
	ChangedBy      string `json:"changed_by"`
}

// raise makes a fresh open alert on card c through the real service and store.
func (s *stack) raise(t *testing.T, c string) alert.Alert {
	t.Helper()
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	r := record.Record{ID: "rec-" + c, Type: "payment", Time: at, Fields: map[string]any{"id": "rec-" + c, "card_id": c}}
	h := decision.Hit{Rule: "large_payment", Severity: decision.High, Action: decision.Review, Reason: "big",
		Entity: &decision.Entity{Field: "card_id", Value: c}}
	as, err := s.alerts.Observe(t.Context(), r, decision.Decision{RecordID: r.ID, Time: at, Action: decision.Review, Hits: []decision.Hit{h}})
	if err != nil || len(as) != 1 {
		t.Fatalf("raise on %s: %v, %v", c, as, err)
	}
	return as[0]
}

func (s *stack) act(t *testing.T, id int64, body string, header ...string) (reply, actionReply) {
	t.Helper()
	r := s.post(t, fmt.Sprintf("/v1/alerts/%d/actions", id), "application/json", body, header...)
	return r, decodeAs[actionReply](t, r)
}

// TestActionsEveryTransition tries every action kind from every state over
// HTTP: a legal one is a 200 with the changed alert and its event; an
// illegal one a 409 with the state machine's reason, changing nothing.
func TestActionsEveryTransition(t *testing.T) {
	s := newStack(t, stackConfig{})
	until := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	bodies := map[alert.ActionKind]string{
		alert.ActAck:      `{"kind":"ack","comment":"on it"}`,
		alert.ActResolve:  `{"kind":"resolve","resolution":"false_positive","comment":"regular customer"}`,
		alert.ActReopen:   `{"kind":"reopen","comment":"chargeback came in"}`,
		alert.ActAssign:   `{"kind":"assign","assignee":"team:payments"}`,
		alert.ActUnassign: `{"kind":"unassign"}`,
		alert.ActComment:  `{"kind":"comment","comment":"customer called"}`,
		alert.ActSnooze:   `{"kind":"snooze","until":"` + until + `"}`,
		alert.ActUnsnooze: `{"kind":"unsnooze"}`,
	}
	// Each state is reached over HTTP too.
	states := []struct {
		name  string
		steps []string
	}{
		{"open", nil},
		{"acknowledged", []string{bodies[alert.ActAck]}},
		{"resolved", []string{`{"kind":"resolve","resolution":"benign"}`}},
		{"open assigned", []string{`{"kind":"assign","assignee":"bo"}`}},
		{"acknowledged snoozed", []string{bodies[alert.ActAck], bodies[alert.ActSnooze]}},
	}
	// "" is legal; else the reason of the 409.
	want := map[string]map[alert.ActionKind]string{
		"open": {alert.ActReopen: "it is already open", alert.ActUnassign: "it is not assigned", alert.ActUnsnooze: "it is not snoozed"},
		"acknowledged": {alert.ActAck: "it is already acknowledged", alert.ActReopen: "it is acknowledged, not resolved",
			alert.ActUnassign: "it is not assigned", alert.ActUnsnooze: "it is not snoozed"},
		"resolved": {alert.ActAck: "it is resolved", alert.ActResolve: "it is already resolved", alert.ActAssign: "it is resolved",
			alert.ActUnassign: "it is resolved", alert.ActComment: "it is resolved", alert.ActSnooze: "it is resolved",
			alert.ActUnsnooze: "it is resolved"},
		"open assigned": {alert.ActReopen: "it is already open", alert.ActUnsnooze: "it is not snoozed"},
		"acknowledged snoozed": {alert.ActAck: "it is already acknowledged", alert.ActReopen: "it is acknowledged, not resolved",
			alert.ActUnassign: "it is not assigned"},
	}
	n := 0
	for _, st := range states {
		for _, kind := range alert.ActionKinds() {
			t.Run(st.name+"/"+string(kind), func(t *testing.T) {
				n++
				a := s.raise(t, fmt.Sprint("card-", n))
				for _, step := range st.steps {
					if r, _ := s.act(t, a.ID, step, "X-Vigil-Actor: ana"); r.status != http.StatusOK {
						t.Fatalf("reaching %s with %s: %d %s", st.name, step, r.status, r.body)
					}
				}
				before, _ := s.alerts.Get(t.Context(), a.ID)
				events, _ := s.alerts.Events(t.Context(), a.ID)

				r, got := s.act(t, a.ID, bodies[kind], "X-Vigil-Actor: cy")
				after, _ := s.alerts.Get(t.Context(), a.ID)
				if reason := want[st.name][kind]; reason != "" {
					wantStatus(t, string(kind), r, http.StatusConflict)
					if got.Reason != reason || !strings.Contains(got.Error, reason) {
						t.Errorf("409 reason %q, error %q; want %q", got.Reason, got.Error, reason)
					}
					if after.Version != before.Version {
						t.Errorf("a refused %s changed the alert: version %d → %d", kind, before.Version, after.Version)
					}
					return
				}
				wantStatus(t, string(kind), r, http.StatusOK)
				if got.ID != a.ID || got.Version != before.Version+1 || got.UpdatedBy != "cy" || after.Version != got.Version {
					t.Errorf("after %s: %+v, want version %d by cy", kind, got.Alert, before.Version+1)
				}
				now, _ := s.alerts.Events(t.Context(), a.ID)
				if len(now) != len(events)+1 || now[len(now)-1].Actor != "cy" {
					t.Errorf("after %s: %d events (was %d), want one more by cy", kind, len(now), len(events))
				}
				switch kind {
				case alert.ActResolve:
					if got.Status != alert.Resolved || got.Resolution != alert.FalsePositive {
						t.Errorf("resolve: %s %s", got.Status, got.Resolution)
					}
				case alert.ActAssign:
					if got.Assignee != "team:payments" {
						t.Errorf("assign: assignee %q", got.Assignee)
					}
				case alert.ActSnooze:
					if got.SnoozedUntil == nil || got.SnoozedUntil.Format(time.RFC3339) != until {
						t.Errorf("snooze: until %v, want %s", got.SnoozedUntil, until)
					}
				case alert.ActReopen:
					if got.Status != alert.Open || got.Resolution != "" {
						t.Errorf("reopen: %s %s", got.Status, got.Resolution)
					}
				}
			})
		}
	}
}

// TestActionsBadRequests: a bad field is a 400 naming it; an unknown alert
// is a 404; a stale version a 409 naming the current one.
func TestActionsBadRequests(t *testing.T) {
	s := newStack(t, stackConfig{})
	a := s.raise(t, "card-bad")
	tests := []struct {
		body    string
		status  int
		message string
	}{
		{`{}`, 400, "kind is required"},
		{`{"kind":"frobnicate"}`, 400, `kind "frobnicate"`},
		{`{"kind":"ack","colour":"red"}`, 400, `"colour"`},
		{`{"kind":"ack","version":"two"}`, 400, "version"},
		{`{"kind":"ack","version":-1}`, 400, "version -1"},
		{`{"kind":"resolve"}`, 400, "resolution is required"},
		{`{"kind":"resolve","resolution":"fixed"}`, 400, `resolution "fixed"`},
		{`{"kind":"ack","resolution":"benign"}`, 400, "resolution is only for resolve"},
		{`{"kind":"assign"}`, 400, "assignee is required"},
		{`{"kind":"assign","assignee":"team:"}`, 400, "names no team"},
		{`{"kind":"comment"}`, 400, "comment is required"},
		{`{"kind":"comment","comment":"` + strings.Repeat("x", alert.MaxCommentBytes+1) + `"}`, 400, "comment:"},
		{`{"kind":"snooze"}`, 400, "until is required"},
		{`{"kind":"snooze","until":"tomorrow"}`, 400, `until "tomorrow"`},
		{`{"kind":"snooze","until":"2001-01-01T00:00:00Z"}`, 400, "not in the future"},
		{`{"kind":"ack","until":"2099-01-01T00:00:00Z"}`, 400, "until is only for snooze"},
		{`{"kind":"ack"} {"kind":"ack"}`, 400, "after"},
	}
	for _, tt := range tests {
		r, got := s.act(t, a.ID, tt.body, "X-Vigil-Actor: ana")
		if r.status != tt.status || !strings.Contains(got.Error, tt.message) {
			t.Errorf("%.80s: %d %q, want %d naming %q", tt.body, r.status, got.Error, tt.status, tt.message)
		}
	}
	if r, got := s.act(t, a.ID, `{"kind":"ack"}`); r.status != 400 || !strings.Contains(got.Error, "actor is required") {
		t.Errorf("no actor: %d %q", r.status, got.Error)
	}
	if r, _ := s.act(t, 999999, `{"kind":"ack"}`, "X-Vigil-Actor: ana"); r.status != 404 {
		t.Errorf("unknown alert: %d, want 404", r.status)
	}
	if after, _ := s.alerts.Get(t.Context(), a.ID); after.Version != a.Version {
		t.Errorf("bad requests changed the alert: version %d → %d", a.Version, after.Version)
	}

	// A stale version names the current one and who changed it.
	if r, _ := s.act(t, a.ID, fmt.Sprintf(`{"kind":"assign","assignee":"bo","version":%d}`, a.Version), "X-Vigil-Actor: ana"); r.status != 200 {
		t.Fatalf("assign at version %d: %d %s", a.Version, r.status, r.body)
	}
	r, got := s.act(t, a.ID, fmt.Sprintf(`{"kind":"ack","version":%d}`, a.Version), "X-Vigil-Actor: cy")
	wantStatus(t, "stale ack", r, http.StatusConflict)
	if got.CurrentVersion != a.Version+1 || got.ChangedBy != "ana" || !strings.Contains(got.Error, fmt.Sprintf("now %d", a.Version+1)) {
		t.Errorf("stale version: %s, want current_version %d by ana", r.body, a.Version+1)
	}
	// The shortcuts take a version too.
	r = s.post(t, fmt.Sprintf("/v1/alerts/%d/ack", a.ID), "application/json", fmt.Sprintf(`{"version":%d}`, a.Version), "X-Vigil-Actor: cy")
	wantStatus(t, "stale /ack", r, http.StatusConflict)
	r = s.post(t, fmt.Sprintf("/v1/alerts/%d/ack", a.ID), "application/json", fmt.Sprintf(`{"version":%d}`, a.Version+1), "X-Vigil-Actor: cy")
	wantStatus(t, "current /ack", r, http.StatusOK)
}

// TestActionsConcurrent: two analysts act on the version they both saw;
// exactly one gets a 200 and the other a 409 naming the new version.
func TestActionsConcurrent(t *testing.T) {
	s := newStack(t, stackConfig{})
	for round := range 10 {
		a := s.raise(t, fmt.Sprint("card-race-", round))
		bodies := []string{
			fmt.Sprintf(`{"kind":"resolve","resolution":"true_positive","version":%d}`, a.Version),
			fmt.Sprintf(`{"kind":"resolve","resolution":"false_positive","version":%d}`, a.Version),
		}
		replies := make([]reply, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, who := range []string{"ana", "bob"} {
			wg.Go(func() {
				<-start
				req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/v1/alerts/%d/actions", s.url, a.ID), strings.NewReader(bodies[i]))
				req.Header.Set("X-Vigil-Actor", who)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					replies[i] = reply{status: -1, body: []byte(err.Error())}
					return
				}
				defer resp.Body.Close()
				var body actionReply
				err = json.NewDecoder(resp.Body).Decode(&body)
				replies[i] = reply{status: resp.StatusCode, body: []byte(fmt.Sprint(body.CurrentVersion, " ", body.Error, err))}
			})
		}
		close(start)
		wg.Wait()
		ok, conflict := 0, 0
		for _, r := range replies {
			switch r.status {
			case http.StatusOK:
				ok++
			case http.StatusConflict:
				conflict++
				if !strings.HasPrefix(string(r.body), fmt.Sprint(a.Version+1, " ")) {
					t.Errorf("round %d: 409 %s, want current version %d", round, r.body, a.Version+1)
				}
			default:
				t.Errorf("round %d: status %d %s", round, r.status, r.body)
			}
		}
		if ok != 1 || conflict != 1 {
			t.Errorf("round %d: %d ok and %d conflicts, want exactly one each", round, ok, conflict)
		}
		if events, _ := s.alerts.Events(t.Context(), a.ID); len(events) != 2 {
			t.Errorf("round %d: %d events, want raised and one resolved", round, len(events))
		}
	}
}

type bulkReply struct {
	Applied int `json:"applied"`
	Refused int `json:"refused"`
	Results []struct {
		ID     int64        `json:"id"`
		Status int          `json:"status"`
		Alert  *alert.Alert `json:"alert"`
		Error  string       `json:"error"`
		Reason string       `json:"reason"`
	} `json:"results"`
}

// TestBulkActions: one action over many alerts, each applied or refused on
// its own, in the order of ids; a bad request as a whole is a 400.
func TestBulkActions(t *testing.T) {
	s := newStack(t, stackConfig{})
	open, acked, resolved := s.raise(t, "b-1"), s.raise(t, "b-2"), s.raise(t, "b-3")
	s.act(t, acked.ID, `{"kind":"ack"}`, "X-Vigil-Actor: ana")
	s.act(t, resolved.ID, `{"kind":"resolve","resolution":"benign"}`, "X-Vigil-Actor: ana")

	body := fmt.Sprintf(`{"ids":[%d,%d,%d,999999,-4],"kind":"resolve","resolution":"false_positive","comment":"batch of test cards"}`,
		open.ID, acked.ID, resolved.ID)
	r := s.post(t, "/v1/alerts/actions", "application/json", body, "X-Vigil-Actor: bob")
	wantStatus(t, "bulk", r, http.StatusOK)
	got := decodeAs[bulkReply](t, r)
	want := []struct {
		id     int64
		status int
		reason string
	}{{open.ID, 200, ""}, {acked.ID, 200, ""}, {resolved.ID, 409, "it is already resolved"}, {999999, 404, ""}, {-4, 400, ""}}
	if got.Applied != 2 || got.Refused != 3 || len(got.Results) != len(want) {
		t.Fatalf("bulk: %s", r.body)
	}
	for i, w := range want {
		res := got.Results[i]
		if res.ID != w.id || res.Status != w.status || res.Reason != w.reason {
			t.Errorf("result %d: %+v, want id %d status %d reason %q", i, res, w.id, w.status, w.reason)
		}
		if w.status == 200 && (res.Alert == nil || res.Alert.Status != alert.Resolved || res.Alert.ResolvedBy != "bob" || res.Alert.Comment != "batch of test cards") {
			t.Errorf("result %d: alert %+v, want resolved by bob", i, res.Alert)
		}
		if w.status != 200 && (res.Alert != nil || res.Error == "") {
			t.Errorf("result %d: a refusal carries an error and no alert: %+v", i, res)
		}
	}

	for _, tt := range []struct{ body, message string }{
		{`{"kind":"ack"}`, "ids: at least one"},
		{`{"ids":[1],"kind":"ack","version":3}`, "a bulk action takes none"},
		{`{"ids":[1],"kind":"resolve"}`, "resolution is required"},
		{`{"ids":"1","kind":"ack"}`, "ids"},
		{`{"ids":[1]}`, "kind is required"},
	} {
		r := s.post(t, "/v1/alerts/actions", "application/json", tt.body, "X-Vigil-Actor: bob")
		if e := decodeAs[apiError](t, r); r.status != 400 || !strings.Contains(e.Error, tt.message) {
			t.Errorf("%s: %d %q, want 400 naming %q", tt.body, r.status, e.Error, tt.message)
		}
	}
}

// TestActionsActorIsThePrincipal: with authentication the actor is the
// token's user, whatever the body or headers claim; a viewer may not act.
func TestActionsActorIsThePrincipal(t *testing.T) {
	a, err := auth.New(t.Context(), auth.Options{Key: []byte(strings.Repeat("k", auth.MinKeyBytes)), Users: []auth.User{
		{Name: "alice", Role: auth.Analyst, TokenSHA256: sha256.Sum256([]byte("alice-token"))},
		{Name: "vic", Role: auth.Viewer, TokenSHA256: sha256.Sum256([]byte("vic-token"))},
	}})
	if err != nil {
		t.Fatal(err)
	}
	s := newStack(t, stackConfig{server: server.Options{Auth: a}})
	al := s.raise(t, "p-1")
	r, got := s.act(t, al.ID, `{"kind":"ack","actor":"mallory"}`, "Authorization: Bearer alice-token", "X-Vigil-Actor: mallory")
	wantStatus(t, "analyst ack", r, http.StatusOK)
	if got.AckedBy != "alice" || got.UpdatedBy != "alice" {
		t.Errorf("acked by %q, updated by %q; want alice, the token's user", got.AckedBy, got.UpdatedBy)
	}
	r = s.post(t, "/v1/alerts/actions", "application/json", fmt.Sprintf(`{"ids":[%d],"kind":"comment","comment":"x"}`, al.ID), "Authorization: Bearer vic-token")
	wantStatus(t, "viewer bulk", r, http.StatusForbidden)
	r, _ = s.act(t, al.ID, `{"kind":"comment","comment":"x"}`, "Authorization: Bearer vic-token")
	wantStatus(t, "viewer action", r, http.StatusForbidden)
	r, _ = s.act(t, al.ID, `{"kind":"comment","comment":"x"}`)
	wantStatus(t, "no token", r, http.StatusUnauthorized)
}
