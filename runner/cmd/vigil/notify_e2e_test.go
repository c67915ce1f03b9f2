package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/silence"
)

// bodies is a webhook receiver that answers status and keeps what it got.
type bodies struct {
	*httptest.Server
	mu  sync.Mutex
	got []string
}

func newBodies(t *testing.T, status int) *bodies {
	b := &bodies{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.got = append(b.got, string(raw))
		b.mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, "no such hook")
	}))
	t.Cleanup(b.Close)
	return b
}

// with counts the bodies that mention s.
func (b *bodies) with(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, g := range b.got {
		if strings.Contains(g, s) {
			n++
		}
	}
	return n
}

const otherBlockedCardPayment = `{"id":"t-9","ts":"2026-03-01T10:00:00Z","type":"payment","customer_id":"cus-9","card_id":"ctok_Z81kPd03Rt","amount":12.5,"currency":"EUR","channel":"ecom","card_country":"FR","ip_country":"FR"}`

// The routing tree, silences and dead letters in a running runner: a
// critical block goes to the pager (which refuses it: a dead letter, visible
// in the API and the CLI) and, by continue, to ops; a silenced card reaches
// nobody until its silence is expired from the CLI.
func TestRoutingSilencesAndDeadLetters(t *testing.T) {
	ops, pager := newBodies(t, http.StatusOK), newBodies(t, http.StatusNotFound)
	dir := t.TempDir()
	db := filepath.Join(dir, "vigil.db")
	cfg := writeConfig(t, dir, shippedPolicies, fmt.Sprintf(`  group_wait: 0s
  group_interval: 1s
  route:
    receiver: ops
    group_by: [entity]
    routes:
      - {matchers: ['severity="critical"'], receiver: pager, continue: true}
      - {matchers: [action=block], receiver: ops}
  receivers:
    - {name: ops, type: webhook, url: %s, secret_env: HOOK_SECRET, timeout: 2s}
    - {name: pager, type: webhook, url: %s, secret_env: HOOK_SECRET, timeout: 2s}
`, ops.URL, pager.URL))
	env := []string{"HOOK_SECRET=s3cret"}

	if res := vigil(t, "", "routes", "test", "--config", cfg, "-l", "severity=critical,action=block,rule=blocked_card"); res.code != 0 ||
		!strings.Contains(res.stdout, "receivers  pager, ops") {
		t.Fatalf("routes test: %d\n%s%s", res.code, res.stdout, res.stderr)
	}

	r := startRunner(t, env, "--config", cfg)
	defer r.shutdown(t)
	var sil silence.Silence
	if code := post(t, r.url+"/v1/silences", `{"matchers":["entity=\"ctok_Z81kPd03Rt\""],"duration":"1h",
		"created_by":"ana","comment":"card under investigation"}`, &sil); code != http.StatusCreated {
		t.Fatalf("POST /v1/silences = %d", code)
	}
	post(t, r.url+"/v1/decide", blockedCardPayment, nil)
	post(t, r.url+"/v1/decide", otherBlockedCardPayment, nil)

	eventually(t, "ops to hear of the first card", 15*time.Second, func() bool { return ops.with("ctok_7Hq2Lm9Xb4") > 0 })
	var failed struct{ Notifications []notify.Notification }
	eventually(t, "the pager's dead letter", 15*time.Second, func() bool {
		get(t, r.url+"/v1/notifications?status=failed", &failed)
		return len(failed.Notifications) == 1
	})
	if n := failed.Notifications[0]; n.Receiver != "pager" || !strings.Contains(n.LastError, "404") {
		t.Errorf("dead letter = %+v", n)
	}
	if res := vigil(t, "", "notifications", "list", "--config", cfg, "--status", "failed"); res.code != 0 ||
		!strings.Contains(res.stdout, "failed") || !strings.Contains(res.stdout, "pager") {
		t.Errorf("notifications list: %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	time.Sleep(1500 * time.Millisecond) // a group tick passes: the silenced card stays quiet
	if n := ops.with("ctok_Z81kPd03Rt") + pager.with("ctok_Z81kPd03Rt"); n != 0 {
		t.Fatalf("the silenced card was notified %d times", n)
	}

	if res := vigil(t, "", "silences", "list", "--db", db, "--state", "active"); res.code != 0 || !strings.Contains(res.stdout, sil.ID) {
		t.Fatalf("silences list: %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if res := vigil(t, "", "silences", "expire", sil.ID, "--db", db, "--actor", "bo"); res.code != 0 || !strings.Contains(res.stdout, "expired") {
		t.Fatalf("silences expire: %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	eventually(t, "ops to hear of the card once its silence expired", 15*time.Second, func() bool { return ops.with("ctok_Z81kPd03Rt") > 0 })
	if n := ops.with("ctok_7Hq2Lm9Xb4"); n != 1 {
		t.Errorf("ops heard of the first card %d times, want once", n)
	}
}

func TestCLIErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, extra string
		args        []string
		want        string
	}{
		{"unknown receiver in a route", "  route:\n    routes: [{receiver: nobody}]\n", []string{"routes", "test", "-l", "a=b"},
			`config: notify.route.routes[0].receiver: unknown receiver "nobody"`},
		{"bad matcher", "  route:\n    routes: [{matchers: ['rule=~\"(\"']}]\n", []string{"routes", "show"},
			"config: notify.route.routes[0].matchers[0]: matcher `rule=~\"(\"`"},
		{"bad label", "", []string{"routes", "test", "-l", "severity"}, `--labels "severity": want name=value`},
		{"bad silence matcher", "", []string{"silences", "add", "-m", "entity=~(", "--duration", "1h", "--comment", "x"},
			"--matcher[0]: matcher `entity=~(`"},
		{"silence without an end", "", []string{"silences", "add", "-m", "entity=c1", "--comment", "x"}, "say how long"},
		{"silence without a comment", "", []string{"silences", "add", "-m", "entity=c1", "--duration", "1h"}, "comment: required"},
		{"unknown silence", "", []string{"silences", "expire", "nope"}, "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writeConfig(t, dir, shippedPolicies, tc.extra)
			res := vigil(t, "", append(tc.args, "--config", cfg)...)
			if res.code == 0 || !strings.Contains(res.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want it to say %q", res.code, res.stderr, tc.want)
			}
		})
	}
}
