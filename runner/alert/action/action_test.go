package action_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/alert/action"
	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/decision"
)

// oncallServer is a real webhook receiver standing for on-call.
type oncallServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newOncall(t *testing.T) *oncallServer {
	o := &oncallServer{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		o.mu.Lock()
		o.bodies = append(o.bodies, string(b))
		o.mu.Unlock()
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *oncallServer) got() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.bodies...)
}

// The acceptance test: a rule fires 1,000 times within a minute with
// a limit of 10 — exactly 10 calls reach the action server, each signed;
// the other 990 alerts are downgraded to review; on-call is told once.
func TestGuardStopsABrokenRule(t *testing.T) {
	ctx := context.Background()
	srv := newEndpoint(t, nil)
	oncall := newOncall(t)
	w := newWorld(t, actionsConfig(srv.srv.URL, 10), map[string]string{"card_testing": "freeze_card", "velocity": "freeze_card"}, oncall.Server)
	srv.clk = w.clk

	var alerts []alert.Alert
	var st action.Stats
	for i := range 1000 {
		alerts = append(alerts, w.raise("card_testing", decision.High))
		w.clk.Add(50 * time.Millisecond) // 1,000 alerts in 50s
		if i%100 == 99 {                 // the runner ticks while the rule fires
			s := w.tick()
			st.Scheduled += s.Scheduled
			st.Suppressed += s.Suppressed
			st.Succeeded += s.Succeeded
		}
	}
	if st.Scheduled != 10 || st.Suppressed != 990 || st.Succeeded != 10 {
		t.Fatalf("stats %+v: want 10 scheduled and succeeded, 990 suppressed", st)
	}
	hits := srv.got()
	if len(hits) != 10 {
		t.Fatalf("the action server got %d calls, want exactly 10", len(hits))
	}
	keys := map[string]bool{}
	byID := map[int64]alert.Alert{}
	for _, a := range alerts[:10] {
		byID[a.ID] = a
	}
	for i, h := range hits { // the calls run a few at a time: in any order
		a, ok := byID[h.req.AlertID]
		if !ok || h.req.Rule != "card_testing" || h.req.Action != "freeze_card" || h.req.Fingerprint != a.Fingerprint ||
			h.req.Entity != a.Entity || h.req.Severity != decision.High || len(h.req.Records) != 1 || h.req.Decision.Reason == "" {
			t.Errorf("call %d = %+v, want one of the first 10 alerts", i, h.req)
		}
		if h.key != action.IdempotencyKey(&a, "freeze_card") || keys[h.key] {
			t.Errorf("call %d: Idempotency-Key %q, want a new one derived from the alert", i, h.key)
		}
		keys[h.key] = true
	}
	downgraded := 0
	for i, a := range alerts {
		got, err := w.svc.Get(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Downgraded {
			downgraded++
			if i < 10 || got.Action != decision.Review {
				t.Errorf("alert %d (#%d) downgraded to %s", a.ID, i, got.Action)
			}
		}
	}
	if downgraded != 990 {
		t.Errorf("%d alerts downgraded, want 990", downgraded)
	}
	kinds, notes := w.events(alerts[0].ID, alert.EventAutoAction)
	var d alert.AutoActionData
	if len(notes) != 1 || json.Unmarshal(notes[0].Data, &d) != nil || d.Status != "succeeded" || d.Attempts != 1 || d.HTTPStatus != 200 ||
		d.Action != "freeze_card" || d.IdempotencyKey != action.IdempotencyKey(&alerts[0], "freeze_card") {
		t.Errorf("alert %d: events %v, outcome %+v", alerts[0].ID, kinds, d)
	}
	if kinds, _ := w.events(alerts[500].ID, ""); !slices.Equal(kinds, []string{"raised", "downgraded"}) {
		t.Errorf("a suppressed alert's events = %v", kinds)
	}

	// On-call hears of the trip once, through the notifier and a real webhook.
	for range 3 {
		w.tick()
		if _, err := w.disp.FanOut(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := w.disp.Deliver(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got := oncall.got()
	if len(got) != 1 || !strings.Contains(got[0], `"group_key":"guard_tripped:`) || !strings.Contains(got[0], `"guard_rule":"card_testing"`) {
		t.Fatalf("on-call got %q, want one guard_tripped notice", got)
	}
	if _, tripped := w.events(alerts[10].ID, alert.EventGuardTripped); len(tripped) != 1 {
		t.Errorf("the alert that tripped the guard has %d guard_tripped events, want 1", len(tripped))
	}

	guards, err := w.x.Guards(ctx)
	if err != nil || len(guards) != 1 || !guards[0].Tripped || guards[0].TripAlertID != alerts[10].ID || guards[0].Trips != 1 || guards[0].RearmAt != nil {
		t.Fatalf("guards = %+v, %v", guards, err)
	}
	if v := counter(t, w.x.Metrics().Trips.WithLabelValues("card_testing")); v != 1 {
		t.Errorf("guard trips metric = %v", v)
	}
	if v := counter(t, w.x.Metrics().Calls.WithLabelValues("card_testing", "freeze_card", "succeeded")); v != 10 {
		t.Errorf("succeeded calls metric = %v", v)
	}
	if v := counter(t, w.x.Metrics().Suppressed.WithLabelValues("card_testing")); v != 990 {
		t.Errorf("suppressed metric = %v", v)
	}

	// Another rule is not stopped by this one's guard.
	other := w.raise("velocity", decision.Medium)
	w.tick()
	if n := len(srv.got()); n != 11 || srv.got()[10].req.AlertID != other.ID {
		t.Fatalf("another rule's alert: %d calls, want it called", n)
	}

	// Re-armed by hand, the rule acts again; the reset is audited.
	w.restart() // the tripped state is in the database
	if again := w.raise("card_testing", decision.High); true {
		w.tick()
		if got, _ := w.svc.Get(ctx, again.ID); !got.Downgraded {
			t.Fatalf("after a restart the guard is still tripped: alert %+v should be downgraded", got)
		}
	}
	ok, err := w.x.Reset(ctx, "card_testing", "ana", "rule fixed in revision 42")
	if err != nil || !ok {
		t.Fatalf("Reset = %v, %v", ok, err)
	}
	if _, resets := w.events(alerts[10].ID, action.EventGuardReset); len(resets) != 1 ||
		!strings.Contains(resets[0].Comment, "re-armed by ana: rule fixed in revision 42") {
		t.Errorf("reset audit events = %+v", resets)
	}
	if ok, err := w.x.Reset(ctx, "card_testing", "ana", ""); ok || err != nil {
		t.Errorf("a second reset = %v, %v; want false, nil", ok, err)
	}
	if _, err := w.x.Reset(ctx, "no_such_rule", "ana", ""); err == nil || !strings.Contains(err.Error(), "no_such_rule") {
		t.Errorf("reset of an unknown rule: %v", err)
	}
	w.clk.Add(time.Second)
	fresh := w.raise("card_testing", decision.High)
	w.tick()
	if last := srv.got()[len(srv.got())-1]; last.req.AlertID != fresh.ID {
		t.Fatalf("after the reset: last call for alert %d, want %d", last.req.AlertID, fresh.ID)
	}
}

// A tripped guard re-arms itself after reset_after, audited as vigil.
func TestGuardRearmsAfterResetAfter(t *testing.T) {
	ctx := context.Background()
	srv := newEndpoint(t, nil)
	cfg := actionsConfig(srv.srv.URL, 2)
	cfg.Guard.ResetAfter = time.Hour
	cfg.Guard.Notify = nil
	w := newWorld(t, cfg, map[string]string{"card_testing": "freeze_card"}, nil)
	srv.clk = w.clk
	for range 3 {
		w.raise("card_testing", decision.High)
	}
	if st := w.tick(); st.Succeeded != 2 || st.Suppressed != 1 {
		t.Fatalf("stats %+v", st)
	}
	g, _ := w.x.Guards(ctx)
	if len(g) != 1 || g[0].RearmAt == nil || !g[0].RearmAt.Equal(start.Add(time.Hour)) || g[0].Recent != 2 {
		t.Fatalf("guards = %+v", g)
	}
	w.clk.Add(59 * time.Minute)
	if st := w.tick(); st.Rearmed != 0 {
		t.Fatalf("re-armed before reset_after: %+v", st)
	}
	w.clk.Add(time.Minute)
	if st := w.tick(); st.Rearmed != 1 {
		t.Fatalf("not re-armed after reset_after: %+v", st)
	}
	_, resets := w.events(g[0].TripAlertID, action.EventGuardReset)
	var data action.GuardResetData
	if len(resets) != 1 || json.Unmarshal(resets[0].Data, &data) != nil || data.Actor != alert.SystemActor || data.Rule != "card_testing" {
		t.Fatalf("reset events = %+v", resets)
	}
	a := w.raise("card_testing", decision.High)
	if st := w.tick(); st.Succeeded != 1 {
		t.Fatalf("after re-arming: %+v", st)
	}
	if got, _ := w.svc.Get(ctx, a.ID); got.Downgraded {
		t.Error("an alert after re-arming was downgraded")
	}
}

// Retries: 5xx and network errors are retried with backoff up to
// max_attempts, as are 408, 425 and 429; other 4xx are final; every attempt carries the same body and key,
// and the outcome lands on the alert.
func TestCallOutcomes(t *testing.T) {
	tests := []struct {
		name     string
		script   []int
		status   string
		attempts int
		http     int
		waits    []time.Duration // between attempts (the jitter returns its ceiling)
	}{
		{"ok at once", []int{200}, "succeeded", 1, 200, nil},
		{"5xx then ok", []int{503, 500, 202}, "succeeded", 3, 202, []time.Duration{time.Second, 2 * time.Second}},
		{"network error then ok", []int{0, 200}, "succeeded", 2, 200, []time.Duration{time.Second}},
		{"4xx is final", []int{422}, "failed", 1, 422, nil},
		{"429 then ok", []int{429, 200}, "succeeded", 2, 200, []time.Duration{time.Second}},
		{"408 then ok", []int{408, 200}, "succeeded", 2, 200, []time.Duration{time.Second}},
		{"5xx until max_attempts", []int{502}, "failed", 4, 502, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			srv := newEndpoint(t, nil, tc.script...)
			w := newWorld(t, actionsConfig(srv.srv.URL, 10), map[string]string{"card_testing": "freeze_card"}, nil)
			srv.clk = w.clk
			a := w.raise("card_testing", decision.High)
			w.tick()
			for i, wait := range tc.waits {
				calls, _ := w.x.Calls(ctx, a.ID)
				if len(calls) != 1 || calls[0].State != "pending" || !calls[0].Due.Equal(w.clk.Now().Add(wait)) {
					t.Fatalf("after attempt %d: %+v, want pending, due in %s", i+1, calls, wait)
				}
				w.clk.Add(wait - time.Millisecond)
				if st := w.tick(); st.Attempts != 0 {
					t.Fatalf("attempt %d made before its backoff", i+2)
				}
				w.clk.Add(time.Millisecond)
				if st := w.tick(); st.Attempts != 1 {
					t.Fatalf("attempt %d not made after its backoff: %+v", i+2, st)
				}
			}
			hits := srv.got()
			if len(hits) != tc.attempts {
				t.Fatalf("server got %d attempts, want %d", len(hits), tc.attempts)
			}
			for i, h := range hits {
				if h.key != hits[0].key || string(h.body) != string(hits[0].body) || h.attempt != string(rune('1'+i)) {
					t.Errorf("attempt %d: key %s, attempt header %s, body changed %v", i+1, h.key, h.attempt, string(h.body) != string(hits[0].body))
				}
			}
			calls, _ := w.x.Calls(ctx, a.ID)
			if len(calls) != 1 || calls[0].State != tc.status || calls[0].Attempts != tc.attempts || calls[0].HTTPStatus != tc.http {
				t.Fatalf("call = %+v", calls)
			}
			_, notes := w.events(a.ID, alert.EventAutoAction)
			var d alert.AutoActionData
			if len(notes) != 1 || json.Unmarshal(notes[0].Data, &d) != nil || d.Status != tc.status || d.Attempts != tc.attempts ||
				d.HTTPStatus != tc.http || notes[0].Actor != alert.SystemActor {
				t.Fatalf("outcome events = %+v", notes)
			}
			w.clk.Add(time.Hour)
			if st := w.tick(); st.Attempts != 0 || len(srv.got()) != tc.attempts {
				t.Errorf("a finished call was made again: %+v", st)
			}
		})
	}
}

// Calls are stored before they are made: an alert raised while the runner
// is down, and a call waiting for its retry, are both carried out after a
// restart, with the Idempotency-Key of before.
func TestPendingCallsSurviveRestart(t *testing.T) {
	ctx := context.Background()
	srv := newEndpoint(t, nil, 503, 200)
	w := newWorld(t, actionsConfig(srv.srv.URL, 10), map[string]string{"card_testing": "freeze_card"}, nil)
	srv.clk = w.clk
	first := w.raise("card_testing", decision.High)
	w.tick() // 503: due again in 1s
	w.restart()
	second := w.raise("card_testing", decision.High) // the new process has not ticked yet
	w.restart()
	w.clk.Add(time.Second)
	st := w.tick()
	if st.Scheduled != 1 || st.Succeeded != 2 {
		t.Fatalf("after the restarts: %+v, want the second alert scheduled and both called", st)
	}
	keys := map[int64][]string{}
	for _, h := range srv.got() {
		keys[h.req.AlertID] = append(keys[h.req.AlertID], h.key)
	}
	if len(keys[first.ID]) != 2 || keys[first.ID][0] != keys[first.ID][1] || len(keys[second.ID]) != 1 {
		t.Fatalf("keys the server got, by alert: %v; want the first alert's twice, the second's once", keys)
	}
	for _, id := range []int64{first.ID, second.ID} {
		if _, notes := w.events(id, alert.EventAutoAction); len(notes) != 1 {
			t.Errorf("alert %d: %d outcome events, want 1", id, len(notes))
		}
	}
	w.restart()
	if st := w.tick(); st != (action.Stats{}) {
		t.Errorf("a restart after everything was done did something: %+v", st)
	}
	if calls, _ := w.x.Calls(ctx, 0); len(calls) != 2 {
		t.Errorf("calls = %+v", calls)
	}
}

// The action is the rule's metadata auto_action, or the first route that
// matches; an action with no endpoint is recorded as skipped.
func TestPickAction(t *testing.T) {
	tests := []struct {
		name   string
		rule   string
		sev    decision.Severity
		action string // "" for none
		status string
	}{
		{"rule metadata", "card_testing", decision.Low, "freeze_card", "succeeded"},
		{"metadata before routes", "takeover", decision.Critical, "hold_account", "succeeded"},
		{"route by severity", "velocity", decision.Critical, "freeze_card", "succeeded"},
		{"no route matches", "velocity", decision.Medium, "", ""},
		{"unknown endpoint", "legacy", decision.Low, "wire_recall", "skipped"},
	}
	srv := newEndpoint(t, nil)
	cfg := actionsConfig(srv.srv.URL, 100)
	cfg.Endpoints = append(cfg.Endpoints, config.ActionEndpoint{Name: "hold_account", URL: srv.srv.URL})
	cfg.Routes = []config.ActionRoute{{Match: config.AlertMatch{Severity: []string{"critical"}}, Action: "freeze_card"}}
	w := newWorld(t, cfg, map[string]string{"card_testing": "freeze_card", "takeover": "hold_account", "legacy": "wire_recall"}, nil)
	srv.clk = w.clk
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := w.raise(tc.rule, tc.sev)
			w.tick()
			calls, err := w.x.Calls(context.Background(), a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if tc.action == "" {
				if len(calls) != 0 {
					t.Fatalf("calls = %+v, want none", calls)
				}
				return
			}
			if len(calls) != 1 || calls[0].Action != tc.action || calls[0].State != tc.status {
				t.Fatalf("calls = %+v, want %s %s", calls, tc.action, tc.status)
			}
			_, notes := w.events(a.ID, alert.EventAutoAction)
			if len(notes) != 1 {
				t.Fatalf("%d outcome events", len(notes))
			}
		})
	}
}

// A crash in the middle of a call: the attempt was counted and leased
// before it was made, so after the restart the call is made again once the
// endpoint's timeout has passed — with the same Idempotency-Key, for the
// receiver to deduplicate.
func TestCallInterruptedByACrash(t *testing.T) {
	srv := newEndpoint(t, nil, -1, 200)
	w := newWorld(t, actionsConfig(srv.srv.URL, 10), map[string]string{"card_testing": "freeze_card"}, nil)
	srv.clk = w.clk
	a := w.raise("card_testing", decision.High)
	ctx, crash := context.WithCancel(context.Background())
	go func() {
		<-srv.arrived
		crash()
	}()
	if _, err := w.x.Tick(ctx); err == nil {
		t.Fatal("Tick survived its context's end mid-call")
	}
	w.restart()
	if st := w.tick(); st.Attempts != 0 {
		t.Fatalf("called again within the lease: %+v", st)
	}
	w.clk.Add(2 * time.Second) // the endpoint's timeout
	if st := w.tick(); st.Succeeded != 1 {
		t.Fatalf("after the lease: %+v", st)
	}
	hits := srv.got()
	if len(hits) != 2 || hits[0].key != hits[1].key || hits[0].attempt != "1" || hits[1].attempt != "2" || string(hits[0].body) != string(hits[1].body) {
		t.Fatalf("hits = %+v", hits)
	}
	if _, notes := w.events(a.ID, alert.EventAutoAction); len(notes) != 1 {
		t.Errorf("%d outcome events, want 1", len(notes))
	}
}

// An analyst who resolves the alert as a false positive while its call
// waits for a retry stops the call.
func TestResolvedAlertIsNotActedOn(t *testing.T) {
	ctx := context.Background()
	srv := newEndpoint(t, nil, 503, 200)
	w := newWorld(t, actionsConfig(srv.srv.URL, 10), map[string]string{"card_testing": "freeze_card"}, nil)
	srv.clk = w.clk
	a := w.raise("card_testing", decision.High)
	w.tick()
	if _, err := w.svc.Resolve(ctx, a.ID, "ana", alert.FalsePositive, "test card"); err != nil {
		t.Fatal(err)
	}
	w.clk.Add(time.Minute)
	if st := w.tick(); st.Attempts != 0 {
		t.Fatalf("called after the resolution: %+v", st)
	}
	calls, _ := w.x.Calls(ctx, a.ID)
	if len(calls) != 1 || calls[0].State != "skipped" || !strings.Contains(calls[0].Error, "resolved as false_positive by ana") {
		t.Fatalf("calls = %+v", calls)
	}
	if _, notes := w.events(a.ID, alert.EventAutoAction); len(notes) != 1 || !strings.Contains(notes[0].Comment, "skipped") {
		t.Errorf("outcome events = %+v", notes)
	}
}
