package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert/action"
	"github.com/vigil-risk/vigil/runner/notify/webhook"
)

// Auto-actions in a running runner: a blocked card's alert calls the
// freeze endpoint, signed; the rule's second alert trips a guard of one call
// per hour and is downgraded; `vigil alerts guard` shows the trip and
// re-arms it, which the audit trail records.
func TestRunCallsActionsWithinTheGuard(t *testing.T) {
	var mu sync.Mutex
	var calls []action.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify("act-s3cret", r.Header.Get(webhook.TimestampHeader), r.Header.Get(webhook.SignatureHeader), body, time.Now(), time.Minute); err != nil {
			t.Errorf("action call: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var req action.Request
		if err := json.Unmarshal(body, &req); err != nil || r.Header.Get("Idempotency-Key") != req.IdempotencyKey {
			t.Errorf("action call: %v, key %q", err, r.Header.Get("Idempotency-Key"))
		}
		mu.Lock()
		calls = append(calls, req)
		mu.Unlock()
	}))
	defer srv.Close()
	got := func() []action.Request {
		mu.Lock()
		defer mu.Unlock()
		return append([]action.Request(nil), calls...)
	}

	dir := t.TempDir()
	db := filepath.Join(dir, "vigil.db")
	cfg := writeConfig(t, dir, shippedPolicies, fmt.Sprintf(`handling:
  interval: 100ms
  auto_actions:
    endpoints: [{name: freeze_card, url: %s, secret_env: ACTION_SECRET, timeout: 2s}]
    routes: [{match: {rules: [blocked_card]}, action: freeze_card}]
    guard: {limit: 1, interval: 1h, reset_after: 0s}
`, srv.URL))
	r := startRunner(t, []string{"ACTION_SECRET=act-s3cret"}, "--config", cfg)
	defer r.shutdown(t)

	post(t, r.url+"/v1/decide", blockedCardPayment, nil)
	eventually(t, "the freeze call", 15*time.Second, func() bool { return len(got()) == 1 })
	if c := got()[0]; c.Rule != "blocked_card" || c.Action != "freeze_card" || c.Entity.Value != "ctok_7Hq2Lm9Xb4" || len(c.Records) != 1 {
		t.Fatalf("call = %+v", c)
	}
	post(t, r.url+"/v1/decide", otherBlockedCardPayment, nil)
	var status struct{ Guards []action.Guard }
	eventually(t, "the guard to trip", 15*time.Second, func() bool {
		res := vigil(t, "", "alerts", "guard", "status", "--db", db, "--json")
		return res.code == 0 && json.Unmarshal([]byte(res.stdout), &status) == nil && len(status.Guards) == 1 && status.Guards[0].Tripped
	})
	trip := status.Guards[0].TripAlertID
	eventually(t, "the second alert downgraded", 15*time.Second, func() bool {
		res := vigil(t, "", "alerts", "show", fmt.Sprint(trip), "--db", db, "--json")
		return strings.Contains(res.stdout, `"downgraded": true`) || strings.Contains(res.stdout, `"downgraded":true`)
	})
	if n := len(got()); n != 1 {
		t.Fatalf("%d calls after the trip, want 1", n)
	}
	if res := vigil(t, "", "alerts", "guard", "status", "--config", cfg); res.code != 0 || !strings.Contains(res.stdout, "tripped") ||
		!strings.Contains(res.stdout, "by hand") {
		t.Errorf("guard status: %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	res := vigil(t, "", "alerts", "guard", "reset", "blocked_card", "--db", db, "--actor", "ana", "--reason", "rule fixed")
	if res.code != 0 || !strings.Contains(res.stdout, "re-armed") {
		t.Fatalf("guard reset: %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if res := vigil(t, "", "alerts", "show", fmt.Sprint(trip), "--db", db, "--json"); !strings.Contains(res.stdout, "re-armed by ana: rule fixed") {
		t.Errorf("the reset is not in the trip alert's audit trail:\n%s", res.stdout)
	}
	if res := vigil(t, "", "alerts", "guard", "reset", "nope", "--db", db); res.code == 0 || !strings.Contains(res.stderr, "nope") {
		t.Errorf("reset of an unknown rule: %d\n%s%s", res.code, res.stdout, res.stderr)
	}
}
