package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vigil-risk/vigil/runner/server"
)

func TestHealth(t *testing.T) {
	var storeDown atomic.Bool
	s := newStack(t, stackConfig{server: server.Options{
		Ready: func(ctx context.Context) error {
			if storeDown.Load() {
				return errors.New("database is locked")
			}
			return ctx.Err()
		},
	}})
	revision := s.engine.Current().Revision

	r := s.get(t, "/healthz")
	wantStatus(t, "/healthz", r, http.StatusOK)
	if got := decodeAs[map[string]string](t, r); got["status"] != "ok" {
		t.Errorf("/healthz: %s", r.body)
	}

	r = s.get(t, "/readyz")
	wantStatus(t, "/readyz", r, http.StatusOK)
	if got := decodeAs[map[string]string](t, r); got["status"] != "ready" || got["policy_revision"] != revision {
		t.Errorf("/readyz: %s, want ready at revision %s", r.body, revision)
	}

	// Readiness follows the check; liveness does not.
	storeDown.Store(true)
	r = s.get(t, "/readyz")
	wantStatus(t, "/readyz with the store down", r, http.StatusServiceUnavailable)
	if got := decodeAs[map[string]string](t, r); got["status"] != "unavailable" || got["error"] != "database is locked" {
		t.Errorf("/readyz: %s, want unavailable with the reason", r.body)
	}
	wantStatus(t, "/healthz with the store down", s.get(t, "/healthz"), http.StatusOK)
}

func TestMetrics(t *testing.T) {
	s := newStack(t, stackConfig{})
	s.decide(t, blockedCard)
	s.decide(t, clean)
	s.post(t, "/v1/decide", "application/json", `{"id":"x"}`) // refused: dead-lettered

	r := s.get(t, "/metrics")
	wantStatus(t, "/metrics", r, http.StatusOK)
	for _, line := range []string{
		`vigil_records_total{action="block",source="http"} 1`,
		`vigil_records_total{action="allow",source="http"} 1`,
		`vigil_rule_hits_total{mode="enforce",rule="blocked_card"} 1`,
		`vigil_dead_letters_total{source="http"} 1`,
		`vigil_alerts_observed_total{rule="blocked_card",status="open"} 1`,
	} {
		if !strings.Contains(string(r.body), line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
}

func TestRules(t *testing.T) {
	s := newStack(t, stackConfig{})
	r := s.get(t, "/v1/rules")
	wantStatus(t, "/v1/rules", r, http.StatusOK)
	var reply struct {
		PolicyRevision string           `json:"policy_revision"`
		LoadedAt       string           `json:"loaded_at"`
		Rules          []map[string]any `json:"rules"`
	}
	if err := json.Unmarshal(r.body, &reply); err != nil {
		t.Fatal(err)
	}
	if reply.PolicyRevision != s.engine.Current().Revision || reply.LoadedAt == "" {
		t.Errorf("revision %q loaded_at %q", reply.PolicyRevision, reply.LoadedAt)
	}
	if want := len(s.engine.Current().Rules); len(reply.Rules) != want || want < 17 {
		t.Fatalf("%d rules, want the %d shipped", len(reply.Rules), want)
	}
	var names []string
	for _, rule := range reply.Rules {
		names = append(names, rule["name"].(string))
		// Every rule carries its metadata under snake_case keys.
		for _, key := range []string{"name", "package", "title", "severity", "action", "mode", "entity", "owner", "file", "line"} {
			if v, ok := rule[key]; !ok || v == "" {
				t.Errorf("rule %v lacks %q", rule["name"], key)
			}
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("rules not sorted by name: %v", names)
	}

	var blocked map[string]any
	for _, rule := range reply.Rules {
		if rule["name"] == "blocked_card" {
			blocked = rule
		}
	}
	want := map[string]any{
		"name": "blocked_card", "package": "risk.rules.blocked_card", "title": "Blocked card",
		"severity": "critical", "action": "block", "mode": "enforce", "entity": "card_id", "owner": "payments-risk",
		"runbook": "https://wiki.example.com/risk/blocked_card", "tags": []any{"card", "blocklist"},
	}
	for key, w := range want {
		if got, _ := json.Marshal(blocked[key]); string(got) != mustJSON(w) {
			t.Errorf("blocked_card %s = %s, want %s", key, got, mustJSON(w))
		}
	}
	if file, _ := blocked["file"].(string); !strings.HasSuffix(file, "blocked_card.rego") {
		t.Errorf("blocked_card file %q", file)
	}
	if extra := slices.DeleteFunc(slices.Sorted(maps.Keys(blocked)), func(k string) bool {
		return slices.Contains([]string{"description", "file", "line"}, k) || want[k] != nil
	}); len(extra) > 0 {
		t.Errorf("blocked_card has unexpected keys %v", extra)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestVersion(t *testing.T) {
	s := newStack(t, stackConfig{})
	r := s.get(t, "/v1/version")
	wantStatus(t, "/v1/version", r, http.StatusOK)
	got := decodeAs[map[string]string](t, r)
	if got["runner_version"] != runnerVersion || got["policy_revision"] != s.engine.Current().Revision {
		t.Errorf("/v1/version: %s", r.body)
	}
}
