package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/check"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// filledStore replays the shipped scenarios' records into a store through
// `vigil replay --store` (the real pipeline) and returns the config file
// and the store's path.
func filledStore(t *testing.T) (cfg, store string) {
	t.Helper()
	dir := t.TempDir()
	cfg = writeConfig(t, dir, shippedPolicies, "")
	store = filepath.Join(dir, "vigil.db")
	scenarios, err := check.LoadScenarios(filepath.Join(shippedFixtures, "scenarios"))
	if err != nil {
		t.Fatal(err)
	}
	var in bytes.Buffer
	for _, s := range scenarios {
		for _, st := range s.Steps {
			b, err := json.Marshal(st.Record)
			if err != nil {
				t.Fatal(err)
			}
			in.Write(append(b, '\n'))
		}
	}
	records := filepath.Join(dir, "records.jsonl")
	if err := os.WriteFile(records, in.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := vigil(t, "", "-c", cfg, "replay", records, "--store", store, "--summary"); r.code != 0 {
		t.Fatalf("replay: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	return cfg, store
}

// alertsOf lists the store's alerts through the CLI.
func alertsOf(t *testing.T, cfg string, args ...string) []alert.Alert {
	t.Helper()
	r := vigil(t, "", append([]string{"-c", cfg, "alerts", "list", "--json", "--limit", "1000"}, args...)...)
	if r.code != 0 {
		t.Fatalf("alerts list: %d %s", r.code, r.stderr)
	}
	var out struct{ Alerts []alert.Alert }
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	return out.Alerts
}

func alertByRule(t *testing.T, cfg, rule string) alert.Alert {
	t.Helper()
	as := alertsOf(t, cfg, "--rule", rule)
	if len(as) == 0 {
		t.Fatalf("no alert of rule %s", rule)
	}
	return as[0]
}

// TestAlertsLifecycleCLI drives one alert through every action from the
// command line, with the version check and the refusals.
func TestAlertsLifecycleCLI(t *testing.T) {
	cfg, _ := filledStore(t)
	a := alertByRule(t, cfg, "large_payment")
	id := fmt.Sprint(a.ID)
	steps := []struct {
		args []string
		code int
		out  string // in stdout (code 0) or stderr
	}{
		{[]string{"ack", id, "--version", fmt.Sprint(a.Version), "--comment", "on it"}, 0, "is acknowledged"},
		{[]string{"assign", id, "--to", "team:payments", "--version", fmt.Sprint(a.Version)}, 1, fmt.Sprintf("changed since version %d (now %d) by ana", a.Version, a.Version+1)},
		{[]string{"ack", id}, 1, "it is already acknowledged"},
		{[]string{"assign", id, "--to", "team:payments"}, 0, "is acknowledged"},
		{[]string{"assign", id}, 1, "assignee is required"},
		{[]string{"comment", id, "--comment", "customer called back"}, 0, "is acknowledged"},
		{[]string{"comment", id}, 1, "comment is required"},
		{[]string{"snooze", id, "--for", "2h"}, 0, "is acknowledged"},
		{[]string{"snooze", id, "--until", "yesterday"}, 1, `--until "yesterday"`},
		{[]string{"unsnooze", id}, 0, "is acknowledged"},
		{[]string{"unsnooze", id}, 1, "it is not snoozed"},
		{[]string{"unassign", id}, 0, "is acknowledged"},
		{[]string{"reopen", id}, 1, "it is acknowledged, not resolved"},
		{[]string{"resolve", id}, 1, "resolution is required"},
		{[]string{"resolve", id, "--resolution", "false_positive", "--comment", "regular customer"}, 0, "is resolved (false_positive)"},
		{[]string{"ack", id}, 1, "it is resolved"},
		{[]string{"reopen", id, "--comment", "chargeback"}, 0, "is open"},
		{[]string{"ack", "999999"}, 1, "not found"},
		{[]string{"ack", "x"}, 1, `alert id "x"`},
	}
	for _, st := range steps {
		r := vigil(t, "", append([]string{"-c", cfg, "alerts", "--actor", "ana"}, st.args...)...)
		text := r.stdout
		if st.code != 0 {
			text = r.stderr
		}
		if r.code != st.code || !strings.Contains(text, st.out) {
			t.Errorf("alerts %s: %d %q %q, want %d with %q", strings.Join(st.args, " "), r.code, r.stdout, r.stderr, st.code, st.out)
		}
	}
	r := vigil(t, "", "-c", cfg, "alerts", "show", id, "--json")
	var d struct{ Events []alert.Event }
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range d.Events {
		kinds = append(kinds, string(e.Kind)+"/"+e.Actor)
	}
	want := "raised/vigil acknowledged/ana assigned/ana commented/ana snoozed/ana unsnoozed/ana unassigned/ana resolved/ana reopened/ana"
	if strings.Join(kinds, " ") != want {
		t.Errorf("audit trail %v, want %s", kinds, want)
	}
}

func TestAlertsBulkCLI(t *testing.T) {
	cfg, _ := filledStore(t)
	open := alertsOf(t, cfg, "--status", "open")
	if len(open) < 3 {
		t.Fatalf("%d open alerts, want at least 3", len(open))
	}
	ids := []string{fmt.Sprint(open[0].ID), fmt.Sprint(open[1].ID)}
	if r := vigil(t, "", "-c", cfg, "alerts", "--actor", "bo", "ack", ids[0]); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r := vigil(t, "", "-c", cfg, "alerts", "--actor", "bo", "bulk", "ack", ids[0], ids[1], "999999")
	if r.code != 1 || !strings.Contains(r.stdout, "1 applied, 2 refused") || !strings.Contains(r.stdout, "already acknowledged") ||
		!strings.Contains(r.stdout, "not found") {
		t.Errorf("bulk ack with refusals: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	rule := open[2].Rule
	n := len(alertsOf(t, cfg, "--status", "open", "--rule", rule))
	r = vigil(t, "", "-c", cfg, "alerts", "--actor", "bo", "bulk", "resolve", "--rule", rule, "--status", "open", "--resolution", "benign")
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("%d applied, 0 refused", n)) {
		t.Errorf("bulk resolve by rule: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if left := alertsOf(t, cfg, "--status", "open", "--rule", rule); len(left) != 0 {
		t.Errorf("%d alerts of %s still open", len(left), rule)
	}
	for _, bad := range [][]string{
		{"bulk", "resolve", ids[0]},             // no resolution
		{"bulk", "frob", ids[0]},                // no such kind
		{"bulk", "ack", ids[0], "--rule", rule}, // ids and filters
	} {
		if r := vigil(t, "", append([]string{"-c", cfg, "alerts", "--actor", "bo"}, bad...)...); r.code != 1 || r.stderr == "" {
			t.Errorf("%v: %d %q, want a refusal", bad, r.code, r.stderr)
		}
	}
}

// TestAlertsExportThroughVigilTest is issue 5's done-when from the command
// line: alerts raised through the real pipeline, labelled, exported, and
// the export replayed green by `vigil test --fixtures`.
func TestAlertsExportThroughVigilTest(t *testing.T) {
	cfg, _ := filledStore(t)
	labels := map[string]string{"blocked_card": "true_positive", "large_payment": "false_positive",
		"high_risk_mcc": "benign", "card_ip_country_mismatch": "duplicate"}
	for rule, label := range labels {
		a := alertByRule(t, cfg, rule)
		if r := vigil(t, "", "-c", cfg, "alerts", "--actor", "ana", "resolve", fmt.Sprint(a.ID), "--resolution", label); r.code != 0 {
			t.Fatalf("resolve %s: %s", rule, r.stderr)
		}
	}
	out := filepath.Join(t.TempDir(), "export")
	r := vigil(t, "", "-c", cfg, "alerts", "export", "--out", out, "--since", "2000-01-01")
	if r.code != 0 || !strings.Contains(r.stdout, "exported 4 alerts (1 duplicates skipped") || !strings.Contains(r.stdout, "3 files") {
		t.Fatalf("export: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "labels.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	fraud := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var l struct {
			Rule  string `json:"rule"`
			Fraud bool   `json:"fraud"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		fraud[l.Rule] = l.Fraud
	}
	if len(fraud) != 3 || !fraud["blocked_card"] || fraud["large_payment"] || fraud["high_risk_mcc"] {
		t.Errorf("dataset labels %v, want blocked_card fraud, large_payment and high_risk_mcc not, no duplicate", fraud)
	}
	r = vigil(t, "", "-c", cfg, "test", "--fixtures", filepath.Join(out, "fixtures"))
	if r.code != 0 || !strings.Contains(r.stdout, "fixtures  ok: 3 files") || !strings.Contains(r.stdout, "PASS") {
		t.Fatalf("vigil test over the export: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, bad := range [][]string{{"export"}, {"export", "--out", out, "--since", "last week"}, {"export", "--out", out, "--status", "closed"}} {
		if r := vigil(t, "", append([]string{"-c", cfg, "alerts"}, bad...)...); r.code != 1 {
			t.Errorf("alerts %v: %d, want a refusal", bad, r.code)
		}
	}
}

// TestAuditVerifyCLI: the untouched log verifies; an edited or deleted event
// in SQLite makes verify fail naming it; export writes every event.
func TestAuditVerifyCLI(t *testing.T) {
	cfg, store := filledStore(t)
	a := alertByRule(t, cfg, "large_payment")
	vigil(t, "", "-c", cfg, "alerts", "--actor", "ana", "ack", fmt.Sprint(a.ID), "--comment", "mine")

	r := vigil(t, "", "audit", "verify", "--store", store)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "ok: ") || !strings.Contains(r.stdout, " events, head ") {
		t.Fatalf("verify untouched: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var n int
	fmt.Sscanf(r.stdout, "ok: %d events", &n)

	exp := filepath.Join(t.TempDir(), "audit.jsonl")
	if r := vigil(t, "", "audit", "export", "--store", store, "--out", exp); r.code != 0 {
		t.Fatalf("audit export: %s", r.stderr)
	}
	b, _ := os.ReadFile(exp)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var last alert.Event
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || len(lines) != n || last.Hash != alert.ChainHash(&last) {
		t.Errorf("audit export: %d lines (want %d), last %+v: %v", len(lines), n, last, err)
	}
	if r := vigil(t, "", "-c", cfg, "audit", "export", "--after", fmt.Sprint(n-1)); r.code != 0 || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("audit export --after: %d %q", r.code, r.stdout)
	}

	// Someone with the database file edits the acknowledgement, then deletes an event.
	var ackID int64
	for _, l := range lines {
		var e alert.Event
		json.Unmarshal([]byte(l), &e)
		if e.Kind == alert.EventAcknowledged {
			ackID = e.ID
		}
	}
	db, err := sqldb.Open(t.Context(), store)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tc := range []struct {
		sql   string
		event int64
		why   string
	}{
		{fmt.Sprintf(`UPDATE alert_events SET actor = 'mallory' WHERE id = %d`, ackID), ackID, "(edited)"},
		{fmt.Sprintf(`UPDATE alert_events SET actor = 'ana' WHERE id = %d`, ackID), 0, ""}, // put back
		{`DELETE FROM alert_events WHERE id = 3`, 4, "events 3 to 3 are missing (deleted)"},
	} {
		for _, q := range []string{`DROP TRIGGER IF EXISTS alert_events_no_update`, `DROP TRIGGER IF EXISTS alert_events_no_delete`, tc.sql} {
			if _, err := db.ExecContext(t.Context(), q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		r := vigil(t, "", "audit", "verify", "--store", store)
		if tc.event == 0 {
			if r.code != 0 {
				t.Errorf("after putting the edit back: %d %s", r.code, r.stdout)
			}
			continue
		}
		if r.code != 1 || !strings.Contains(r.stdout, fmt.Sprintf("FAIL: audit chain broken at event %d", tc.event)) || !strings.Contains(r.stdout, tc.why) {
			t.Errorf("verify after %s: %d\n%s%s", tc.sql, r.code, r.stdout, r.stderr)
		}
	}
	if r := vigil(t, "", "audit", "verify", "--store", filepath.Join(t.TempDir(), "none.db")); r.code != 1 || !strings.Contains(r.stderr, "store.path") {
		t.Errorf("verify a missing store: %d %q", r.code, r.stderr)
	}
}
