package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/notify/webhook"
)

const blockedCardPayment = `{"id":"t-1","ts":"2026-03-01T10:00:00Z","type":"payment","customer_id":"cus-1","card_id":"ctok_7Hq2Lm9Xb4","amount":12.5,"currency":"EUR","channel":"ecom","card_country":"FR","ip_country":"FR"}`

// A record posted to /v1/decide gets a decision with hits, reasons and the
// revision; the alert it raises shows in the API and in `vigil alerts list`;
// ack and resolve from the CLI work and are audited.
func TestDecideRaisesAlertHandledFromCLI(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, shippedPolicies, "")
	r := startRunner(t, nil, "--config", cfg)

	var d decision.Decision
	if code := post(t, r.url+"/v1/decide", blockedCardPayment, &d); code != http.StatusOK {
		t.Fatalf("decide: status %d", code)
	}
	var rules struct {
		Revision string `json:"policy_revision"`
	}
	get(t, r.url+"/v1/rules", &rules)
	if d.Action != decision.Block || d.Score != 100 || len(d.Hits) != 1 || d.Hits[0].Rule != "blocked_card" ||
		!strings.Contains(d.Hits[0].Reason, "ctok_7Hq2Lm9Xb4 is on the blocked-card list") ||
		d.PolicyRevision == "" || d.PolicyRevision != rules.Revision || d.RecordID != "t-1" {
		t.Fatalf("unexpected decision: %+v (revision served %q)", d, rules.Revision)
	}

	var listed struct{ Alerts []alert.Alert }
	get(t, r.url+"/v1/alerts?status=open", &listed)
	if len(listed.Alerts) != 1 || listed.Alerts[0].Rule != "blocked_card" || listed.Alerts[0].Entity.Value != "ctok_7Hq2Lm9Xb4" {
		t.Fatalf("GET /v1/alerts: %+v", listed.Alerts)
	}
	id := fmt.Sprint(listed.Alerts[0].ID)

	res := vigil(t, "", "alerts", "list", "--config", cfg)
	if res.code != 0 || !strings.Contains(res.stdout, "blocked_card") || !strings.Contains(res.stdout, "card_id=ctok_7Hq2Lm9Xb4") {
		t.Fatalf("vigil alerts list: %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if res := vigil(t, "", "alerts", "ack", id, "--config", cfg, "--actor", "alice", "--comment", "calling the card holder"); res.code != 0 || !strings.Contains(res.stdout, "acknowledged") {
		t.Fatalf("ack: %+v", res)
	}
	if res := vigil(t, "", "alerts", "resolve", id, "--config", cfg, "--actor", "bob"); res.code == 0 || !strings.Contains(res.stderr, "resolution") {
		t.Fatalf("resolve without a resolution must fail naming it: %+v", res)
	}
	if res := vigil(t, "", "alerts", "resolve", id, "--config", cfg, "--actor", "bob", "--resolution", "true_positive"); res.code != 0 {
		t.Fatalf("resolve: %+v", res)
	}
	if res := vigil(t, "", "alerts", "ack", id, "--config", cfg, "--actor", "carol"); res.code == 0 || !strings.Contains(res.stderr, "resolved") {
		t.Fatalf("acknowledging a resolved alert must fail saying why: %+v", res)
	}

	res = vigil(t, "", "alerts", "show", id, "--config", cfg, "--json")
	var shown struct {
		Alert   alert.Alert
		Records []json.RawMessage
		Events  []alert.Event
	}
	if err := json.Unmarshal([]byte(res.stdout), &shown); err != nil {
		t.Fatalf("show --json: %v\n%s", err, res.stdout)
	}
	if shown.Alert.Status != alert.Resolved || shown.Alert.Resolution != alert.TruePositive || shown.Alert.ResolvedBy != "bob" || len(shown.Records) != 1 {
		t.Fatalf("shown alert: %+v", shown.Alert)
	}
	var trail []string
	for _, e := range shown.Events {
		trail = append(trail, string(e.Kind)+":"+e.Actor)
	}
	if got := strings.Join(trail, " "); !strings.Contains(got, "raised:") || !strings.Contains(got, "acknowledged:alice") || !strings.Contains(got, "resolved:bob") {
		t.Fatalf("audit trail %q lacks raise, ack by alice or resolve by bob", got)
	}
	// the API sees the same resolved alert
	var one struct{ Alert alert.Alert }
	if code := get(t, r.url+"/v1/alerts/"+id, &one); code != http.StatusOK || one.Alert.Status != alert.Resolved {
		t.Fatalf("GET /v1/alerts/%s: %d %+v", id, code, one.Alert)
	}
	if code := r.shutdown(t); code != 0 {
		t.Fatalf("vigil run exited with %d:\n%s", code, r.stderr.String())
	}
}

// Replaying the FDH CSV, mapped by configuration only, completes, and two
// replays write identical decision logs apart from latency fields.
func TestReplayFDHIsDeterministic(t *testing.T) {
	files := []string{filepath.Join(shippedFixtures, "fdh", "transactions-sample.csv")}
	if dir := os.Getenv("DATASETS_DIR"); dir != "" {
		files = append(files, filepath.Join(dir, "fraud-detection-handbook-sim", "transactions-2018-04-01_2018-04-14.csv"))
	} else {
		t.Log("DATASETS_DIR not set: replaying only the 200-row FDH sample in fixtures/, not the full 14-day file")
	}
	mapping := filepath.Join(shippedFixtures, "fdh", "replay.yaml")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			rows := countLines(t, file) - 1
			var logs [2][]string
			for i := range logs {
				out := filepath.Join(t.TempDir(), "decisions.jsonl")
				res := vigil(t, "", "replay", file, "--config", mapping, "--set", "policies.path="+shippedPolicies, "--out", out)
				if res.code != 0 {
					t.Fatalf("replay: %d\n%s", res.code, res.stderr)
				}
				logs[i] = withoutLatency(t, out)
			}
			if len(logs[0]) != rows {
				t.Fatalf("replay decided %d records, the file has %d rows", len(logs[0]), rows)
			}
			for i := range logs[0] {
				if logs[0][i] != logs[1][i] {
					t.Fatalf("decision %d differs between replays:\n%s\n%s", i+1, logs[0][i], logs[1][i])
				}
			}
			var first decision.Decision
			if err := json.Unmarshal([]byte(logs[0][0]), &first); err != nil {
				t.Fatal(err)
			}
			if first.RecordID != "0" || first.RecordType != "payment" || first.Time.Format(time.RFC3339) != "2018-04-01T00:00:31Z" {
				t.Fatalf("first decision: %+v", first)
			}

			res := vigil(t, "", "replay", file, "--config", mapping, "--set", "policies.path="+shippedPolicies, "--summary")
			if res.code != 0 || !strings.Contains(res.stdout, fmt.Sprintf("%d decided, 0 refused", rows)) {
				t.Fatalf("replay --summary: %d\n%s%s", res.code, res.stdout, res.stderr)
			}
		})
	}
}

func countLines(t *testing.T, file string) int {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
	}
	return n
}

// withoutLatency reads a decision log and drops the eval_us field of each
// line, and any other fields named.
func withoutLatency(t *testing.T, file string, drop ...string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if _, ok := m["eval_us"]; !ok {
			t.Fatalf("decision log line without eval_us: %s", sc.Text())
		}
		delete(m, "eval_us")
		for _, k := range drop {
			delete(m, k)
		}
		b, _ := json.Marshal(m)
		out = append(out, string(b))
	}
	return out
}

// Bad records: each gets one clear error naming the place, and nothing else
// of the stream is lost.
func TestBadRecordsAreDeadLetteredAndTheStreamGoesOn(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	lines := []string{
		`{"id":"ok-1","ts":"2026-03-01T10:00:00Z","type":"payment","amount":10,"currency":"EUR"}`,
		`{"id":"bad-json","ts":`,
		`{"id":"bad-type","ts":"2026-03-01T10:00:02Z","type":"payment","amount":"ten","currency":"EUR"}`,
		`{"id":"no-ts","type":"payment","amount":10,"currency":"EUR"}`,
		`{"id":"ok-2","ts":1772359203000,"type":"payment","amount":"11.50","currency":" eur "}`,
	}
	if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, dir, shippedPolicies, fmt.Sprintf("sources:\n  - {name: payments, type: file, path: %s}\n", in))
	r := startRunner(t, nil, "--config", cfg)
	dlFile := filepath.Join(dir, "dead-letter.jsonl")
	var dead []map[string]any
	eventually(t, "three dead letters", 10*time.Second, func() bool {
		dead = readJSONL(t, dlFile)
		return len(dead) == 3
	})
	want := []struct {
		line  float64
		field string
		msg   string
	}{{2, "", "malformed JSON"}, {3, "amount", `want number, got "ten"`}, {4, "ts", "required"}}
	for i, w := range want {
		errs, _ := dead[i]["errors"].([]any)
		if dead[i]["line"] != w.line || len(errs) != 1 {
			t.Fatalf("dead letter %d: %v", i, dead[i])
		}
		e := errs[0].(map[string]any)
		if fmt.Sprint(e["field"]) != w.field && !(w.field == "" && e["field"] == nil) || !strings.Contains(fmt.Sprint(e["reason"]), w.msg) {
			t.Errorf("dead letter %d: want field %q and reason containing %q, got %v", i, w.field, w.msg, e)
		}
	}
	var metrics string
	eventually(t, "two decided records in the metrics", 5*time.Second, func() bool {
		resp, err := http.Get(r.url + "/metrics")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		metrics = string(b)
		return strings.Contains(metrics, `vigil_records_total{action="allow",source="file:`+in+`"} 2`)
	})
	if !strings.Contains(metrics, `vigil_dead_letters_total{source="file:`+in+`"} 3`) {
		t.Errorf("metrics lack 3 dead letters:\n%s", grepLines(metrics, "vigil_"))
	}
}

func readJSONL(t *testing.T, file string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		out = append(out, m)
	}
	return out
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A bad configuration or bundle stops the runner at start with one line.
func TestBadStartIsOneLine(t *testing.T) {
	broken := copyPolicies(t)
	replaceInFile(t, filepath.Join(broken, "risk/rules/large_payment.rego"), "r.amount >= threshold", "r.amount >= >= threshold")
	badMeta := copyPolicies(t)
	replaceInFile(t, filepath.Join(badMeta, "risk/rules/large_payment.rego"), "#   severity: medium", "#   severity: urgent")

	dir := t.TempDir()
	tests := []struct {
		name string
		file string // config file content; empty: none
		args []string
		want string
	}{
		{"unknown config key", "server:\n  adress: 127.0.0.1:1\n", nil, `vigil: config: unknown key "server.adress" in `},
		{"bad value", "alerts:\n  min_severity: loud\n", nil, `vigil: config: alerts.min_severity: severity "loud"`},
		{"unknown --set key", "", []string{"--set", "alerts.min_sev=high"}, `vigil: config: unknown key "alerts.min_sev" in the command line`},
		{"rego syntax error", "", []string{"--policies", broken}, "risk/rules/large_payment.rego:30: rego_parse_error"},
		{"bad rule metadata", "", []string{"--policies", badMeta}, `risk/rules/large_payment.rego:7: rule large_payment: custom.severity "urgent"`},
		{"missing policies", "", []string{"--policies", filepath.Join(dir, "nope")}, "vigil: policies " + filepath.Join(dir, "nope")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"run", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "v.db"), "--set", "dead_letter.path="}
			if tt.file != "" {
				f := filepath.Join(t.TempDir(), "c.yaml")
				if err := os.WriteFile(f, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--config", f)
			}
			args = append(args, tt.args...)
			if tt.name != "rego syntax error" && tt.name != "bad rule metadata" && tt.name != "missing policies" {
				args = append(args, "--policies", shippedPolicies)
			}
			res := vigil(t, "", args...)
			if res.code == 0 {
				t.Fatal("vigil run must fail")
			}
			lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
			last := lines[len(lines)-1]
			if !strings.Contains(last, tt.want) || !strings.HasPrefix(last, "vigil: ") {
				t.Fatalf("last stderr line %q does not contain %q; stderr:\n%s", last, tt.want, res.stderr)
			}
			if len(lines) > 1 {
				t.Fatalf("a failed start must print one line, got:\n%s", res.stderr)
			}
		})
	}
}

// A hot reload of a bundle that does not compile is refused with one log
// line and the old policy keeps serving; a good edit is picked up.
func TestHotReloadRefusesABadBundle(t *testing.T) {
	pol := copyPolicies(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, pol, "")
	r := startRunner(t, nil, "--config", cfg, "--set", "policies.watch=true")
	var before decision.Decision
	post(t, r.url+"/v1/decide", blockedCardPayment, &before)

	rule := filepath.Join(pol, "risk/rules/large_payment.rego")
	replaceInFile(t, rule, "r.amount >= threshold", "r.amount >= >= threshold")
	eventually(t, "the refused reload to be logged", 15*time.Second, func() bool {
		return strings.Contains(r.stderr.String(), "policy reload refused, still serving revision "+before.PolicyRevision)
	})
	if n := strings.Count(r.stderr.String(), "policy reload refused"); n != 1 {
		t.Errorf("want exactly one log line for the refused reload, got %d:\n%s", n, r.stderr.String())
	}
	var during decision.Decision
	if code := post(t, r.url+"/v1/decide", blockedCardPayment, &during); code != http.StatusOK || during.PolicyRevision != before.PolicyRevision || during.Action != decision.Block {
		t.Fatalf("the old policy must keep serving: %d %+v", code, during)
	}

	// A good edit: lower the large-payment threshold for EUR to 10.
	replaceInFile(t, rule, "r.amount >= >= threshold", "r.amount >= threshold")
	replaceInFile(t, filepath.Join(pol, "risk/config/data.json"), `"min_amount": {"EUR": 5000`, `"min_amount": {"EUR": 10`)
	var after decision.Decision
	eventually(t, "the good bundle to be served", 15*time.Second, func() bool {
		post(t, r.url+"/v1/decide", blockedCardPayment, &after)
		return after.PolicyRevision != before.PolicyRevision
	})
	if !hasHit(after, "large_payment") {
		t.Fatalf("the reloaded threshold is not in force: %+v", after)
	}
}

func hasHit(d decision.Decision, rule string) bool {
	for _, h := range d.Hits {
		if h.Rule == rule {
			return true
		}
	}
	return false
}

// Alerts and pending notifications survive a restart; a repeat of the same
// fingerprint updates the alert (count 2) instead of raising another; the
// webhook retries until its receiver recovers and its signature verifies.
func TestAlertsAndNotificationsSurviveRestart(t *testing.T) {
	const secret = "s3cret-for-tests"
	var healthy atomic.Bool
	var mu sync.Mutex
	var delivered []string // idempotency keys
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if err := webhook.Verify(secret, req.Header.Get("X-Vigil-Timestamp"), req.Header.Get("X-Vigil-Signature"), body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("webhook signature: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if !healthy.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		mu.Lock()
		delivered = append(delivered, req.Header.Get("Idempotency-Key"))
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer hook.Close()

	dir := t.TempDir()
	cfg := writeConfig(t, dir, shippedPolicies, fmt.Sprintf(`  receivers:
    - {name: ops, type: webhook, url: %s, secret_env: HOOK_SECRET, timeout: 2s}
`, hook.URL))
	env := []string{"HOOK_SECRET=" + secret}

	r := startRunner(t, env, "--config", cfg)
	var d decision.Decision
	post(t, r.url+"/v1/decide", blockedCardPayment, &d)
	if r.shutdown(t) != 0 {
		t.Fatalf("first run failed:\n%s", r.stderr.String())
	}
	mu.Lock()
	if len(delivered) != 0 {
		t.Fatalf("nothing can be delivered while the receiver fails, got %v", delivered)
	}
	mu.Unlock()

	healthy.Store(true)
	r = startRunner(t, env, "--config", cfg)
	eventually(t, "the pending notification to be delivered after the restart", 15*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(delivered) == 1
	})
	repeat := strings.Replace(blockedCardPayment, `"id":"t-1","ts":"2026-03-01T10:00:00Z"`, `"id":"t-2","ts":"2026-03-01T10:05:00Z"`, 1)
	post(t, r.url+"/v1/decide", repeat, &d)
	var listed struct{ Alerts []alert.Alert }
	get(t, r.url+"/v1/alerts", &listed)
	if len(listed.Alerts) != 1 || listed.Alerts[0].Count != 2 || listed.Alerts[0].LastRecordID != "t-2" {
		t.Fatalf("the same fingerprint twice must be one alert with count 2: %+v", listed.Alerts)
	}
	time.Sleep(300 * time.Millisecond) // a repeat must not notify again
	mu.Lock()
	defer mu.Unlock()
	if len(delivered) != 1 {
		t.Fatalf("want exactly one delivery, got %v", delivered)
	}
}
