package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// vigilEnv runs the CLI in-process with the given environment.
func vigilEnv(t *testing.T, environ []string, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(context.Background(), args, environ, strings.NewReader(""), &out, &errb)
	return cliResult{out.String(), errb.String(), code}
}

// lineOf is the 1-based line of the first line of file containing sub.
func lineOf(t *testing.T, file, sub string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, sub) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line containing %q", file, sub)
	return 0
}

// brokenWorkspace is a repository-like directory (policies/, fixtures/)
// with one failing Rego unit test and one failing fixture record.
func brokenWorkspace(t *testing.T) (ws string, testLine, fixtureLine int) {
	t.Helper()
	policies := copyPolicies(t)
	ws = filepath.Dir(policies)
	fixtures := filepath.Join(ws, "fixtures")
	if err := os.MkdirAll(fixtures, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(shippedFixtures, "scenarios", "payment_reviews.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	reviews := filepath.Join(fixtures, "payment_reviews.yaml")
	if err := os.WriteFile(reviews, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// the large payment is reviewed; the fixture now wants it blocked
	replaceInFile(t, reviews, "amount: 7200, currency: EUR, mcc: \"5944\", channel: pos, merchant_country: FR, card_country: FR}\n    expect: {action: review",
		"amount: 7200, currency: EUR, mcc: \"5944\", channel: pos, merchant_country: FR, card_country: FR}\n    expect: {action: block")
	fixtureLine = lineOf(t, reviews, "id: rev-large-1")

	unit := filepath.Join(policies, "risk/rules/large_payment_test.rego")
	replaceInFile(t, unit, `"amount": 5000, "currency": "EUR", "threshold": 5000,`, `"amount": 5000, "currency": "EUR", "threshold": 5001,`)
	testLine = lineOf(t, unit, "test_fires_at_threshold if {")
	return ws, testLine, fixtureLine
}

func TestVigilTestOnGitHubActions(t *testing.T) {
	ws, testLine, fixtureLine := brokenWorkspace(t)
	summary, output := filepath.Join(t.TempDir(), "summary.md"), filepath.Join(t.TempDir(), "output")
	env := []string{"GITHUB_ACTIONS=true", "GITHUB_STEP_SUMMARY=" + summary, "GITHUB_OUTPUT=" + output, "GITHUB_WORKSPACE=" + ws}
	res := vigilEnv(t, env, "test", "--policies", filepath.Join(ws, "policies"), "--fixtures", filepath.Join(ws, "fixtures"))
	if res.code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}

	// one annotation per failure, on the workspace-relative file and line
	wantAnnotations := []string{
		fmt.Sprintf("::error file=policies/risk/rules/large_payment_test.rego,line=%d,title=vigil test%%3A rego-test::data.risk.rules.large_payment_test.test_fires_at_threshold: failed", testLine),
		fmt.Sprintf("::error file=fixtures/payment_reviews.yaml,line=%d,title=vigil test%%3A fixture::Risky card payments are sent to review, record 2 (rev-large-1): want action block, got review", fixtureLine),
	}
	var annotations []string
	for _, l := range strings.Split(res.stdout, "\n") {
		if strings.HasPrefix(l, "::error") {
			annotations = append(annotations, l)
		}
	}
	if len(annotations) != len(wantAnnotations) {
		t.Fatalf("annotations:\n%s\nwant %d", strings.Join(annotations, "\n"), len(wantAnnotations))
	}
	for i, want := range wantAnnotations {
		if !strings.HasPrefix(annotations[i], want) {
			t.Errorf("annotation %d:\n%s\nwant prefix\n%s", i, annotations[i], want)
		}
	}
	// the text report is there too, for the log
	if !strings.Contains(res.stdout, "FAIL: 2 problem(s)") {
		t.Errorf("stdout lacks the text report:\n%s", res.stdout)
	}

	sum := readFile(t, summary)
	for _, want := range []string{
		"### vigil test: ❌ 2 failure(s)",
		"| rules | ✅ 24 (3 in shadow mode), strict Rego v1, metadata valid |",
		"| lint | ✅ 0 problem(s) |",
		"| coverage | ✅ ",
		"| fixtures | ❌ 1 files, 6 records, 5 passed |",
		"| failures | ❌ 2 |",
		fmt.Sprintf("| `%s:%d` | fixture | Risky card payments are sent to review, record 2 (rev-large-1): want action block, got review |",
			filepath.Join(ws, "fixtures", "payment_reviews.yaml"), fixtureLine),
	} {
		if !strings.Contains(sum, want) {
			t.Errorf("job summary lacks %q:\n%s", want, sum)
		}
	}
	if !strings.Contains(sum, "| unit tests | ❌ ") || !strings.Contains(sum, " passed, 1 failed, 0 errors |") {
		t.Errorf("job summary lacks the unit test row:\n%s", sum)
	}

	outputs := parseOutputs(t, readFile(t, output))
	for k, v := range map[string]string{"ok": "false", "failures": "2", "rules": "24", "shadow_rules": "3", "unit_failed": "1", "fixtures": "6", "fixtures_passed": "5"} {
		if outputs[k] != v {
			t.Errorf("output %s = %q, want %q (all: %v)", k, outputs[k], v, outputs)
		}
	}
}

// parseOutputs reads GITHUB_OUTPUT's heredoc entries.
func parseOutputs(t *testing.T, s string) map[string]string {
	t.Helper()
	out := map[string]string{}
	lines := strings.Split(s, "\n")
	for i := 0; i < len(lines); i++ {
		name, delim, ok := strings.Cut(lines[i], "<<")
		if !ok {
			continue
		}
		var val []string
		for i++; i < len(lines) && lines[i] != delim; i++ {
			val = append(val, lines[i])
		}
		out[name] = strings.Join(val, "\n")
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Off Actions the report is text, and no environment file is touched.
func TestVigilTestFormats(t *testing.T) {
	ws, _, _ := brokenWorkspace(t)
	args := []string{"test", "--policies", filepath.Join(ws, "policies"), "--fixtures", filepath.Join(ws, "fixtures")}

	res := vigilEnv(t, []string{}, args...)
	if res.code != 1 || strings.Contains(res.stdout, "::error") || !strings.Contains(res.stdout, "FAIL: 2 problem(s)") {
		t.Errorf("text: exit %d\n%s", res.code, res.stdout)
	}

	res = vigilEnv(t, []string{}, append(args, "--format", "json")...)
	var rep struct {
		OK       bool `json:"ok"`
		Rules    int  `json:"rules"`
		Unit     struct{ Passed, Failed int }
		Fixtures struct{ Records, Passed int }
		Problems []struct {
			Kind, File, Message string
			Line                int
		}
	}
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, res.stdout)
	}
	if res.code != 1 || rep.OK || rep.Rules != 24 || rep.Unit.Failed != 1 || rep.Fixtures.Records != 6 || rep.Fixtures.Passed != 5 || len(rep.Problems) != 2 {
		t.Errorf("json: exit %d, %+v", res.code, rep)
	}

	res = vigilEnv(t, []string{}, append(args, "--format", "junit")...)
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Cases    []struct {
				Name    string `xml:"name,attr"`
				File    string `xml:"file,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(res.stdout), &suites); err != nil {
		t.Fatalf("junit: %v\n%s", err, res.stdout)
	}
	if res.code != 1 || suites.Failures != 2 || len(suites.Suites) != 3 {
		t.Fatalf("junit: exit %d, %d failures in %d suites\n%s", res.code, suites.Failures, len(suites.Suites), res.stdout)
	}
	fixtures := suites.Suites[2]
	if fixtures.Tests != 6 || fixtures.Failures != 1 || fixtures.Cases[1].Failure == nil ||
		fixtures.Cases[1].Failure.Message != "want action block, got review" {
		t.Errorf("junit fixtures suite: %+v", fixtures)
	}
	if unit := suites.Suites[1]; unit.Failures != 1 || unit.Tests < 100 {
		t.Errorf("junit unit suite: %d tests, %d failures", unit.Tests, unit.Failures)
	}

	if res := vigilEnv(t, []string{}, append(args, "--format", "yaml")...); res.code != 1 ||
		!strings.Contains(res.stderr, `vigil: --format "yaml": want text, github, junit or json`) {
		t.Errorf("bad format: exit %d, stderr %q", res.code, res.stderr)
	}
}

// runGit runs git in dir, failing the test on error.
func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=Vigil Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// thresholdDataset writes labelled EUR payments spread from 1000 to 6900
// and returns, for a large-payment threshold, the hits and frauds among them
// and the number of records between the two thresholds.
func thresholdDataset(t *testing.T, n int) (path string, count func(threshold float64) (hits, frauds int), band func(lo, hi float64) int) {
	t.Helper()
	type row struct {
		amount float64
		fraud  bool
	}
	var rows []row
	var buf bytes.Buffer
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		r := row{amount: float64(1000 + (i*37%60)*100), fraud: i%7 == 0 || (i%3 == 0 && i*37%60 >= 30)}
		rows = append(rows, r)
		line, _ := json.Marshal(map[string]any{
			"id": fmt.Sprintf("t-%04d", i), "ts": start.Add(time.Duration(i) * time.Hour).Format(time.RFC3339), "type": "payment",
			"customer_id": fmt.Sprintf("cus-%03d", i%(n/2)), "card_id": fmt.Sprintf("ctok_%06d", i), "amount": r.amount,
			"currency": "EUR", "mcc": "5411", "channel": "pos", "merchant_country": "FR", "card_country": "FR", "fraud": r.fraud,
		})
		buf.Write(append(line, '\n'))
	}
	path = filepath.Join(t.TempDir(), "labelled.jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	count = func(threshold float64) (hits, frauds int) {
		for _, r := range rows {
			if r.amount >= threshold {
				hits++
				if r.fraud {
					frauds++
				}
			}
		}
		return hits, frauds
	}
	band = func(lo, hi float64) int {
		n := 0
		for _, r := range rows {
			if r.amount >= lo && r.amount < hi {
				n++
			}
		}
		return n
	}
	return path, count, band
}

// A pull request lowers the large-payment threshold from 5000 to 3000 EUR:
// the backtest against the base commit reports what that does.
func TestBacktestAgainstBaseCommit(t *testing.T) {
	policies := copyPolicies(t)
	repo := filepath.Dir(policies)
	runGit(t, repo, "init", "-q")
	runGit(t, repo, "add", ".")
	runGit(t, repo, "commit", "-q", "-m", "base")
	commit := runGit(t, repo, "rev-parse", "--short=12", "HEAD")
	replaceInFile(t, filepath.Join(policies, "risk/config/data.json"), `"EUR": 5000`, `"EUR": 3000`)

	data, count, band := thresholdDataset(t, 240)
	page := filepath.Join(t.TempDir(), "impact.html")
	res := vigilEnv(t, []string{}, "backtest", "--policies", policies, "--data", data, "--label", "fraud",
		"--base", "HEAD", "-o", "json", "--html", page, "--max-alert-increase", "1000%")
	if res.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	var rep struct {
		OK      bool   `json:"ok"`
		BaseRef string `json:"base_ref"`
		Rules   []struct {
			Rule, Status  string
			Before, After *struct {
				Hits      int     `json:"hits"`
				TruePos   int     `json:"true_positives"`
				Precision float64 `json:"precision"`
			}
		} `json:"rules"`
		Decisions struct {
			Compared, Changed int
		} `json:"decisions"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, res.stdout)
	}
	if !rep.OK || rep.BaseRef != "HEAD ("+commit+")" {
		t.Errorf("ok %v, base %q; want ok against HEAD (%s)", rep.OK, rep.BaseRef, commit)
	}
	hitsB, tpB := count(5000)
	hitsA, tpA := count(3000)
	found := false
	for _, r := range rep.Rules {
		if r.Rule != "large_payment" {
			if r.Status != "unchanged" {
				t.Errorf("rule %s is %s", r.Rule, r.Status)
			}
			continue
		}
		found = true
		if r.Status != "changed" || r.Before.Hits != hitsB || r.Before.TruePos != tpB || r.After.Hits != hitsA || r.After.TruePos != tpA {
			t.Errorf("large_payment %s: %+v → %+v; want hits %d → %d, true positives %d → %d", r.Status, r.Before, r.After, hitsB, hitsA, tpB, tpA)
		}
	}
	if !found {
		t.Fatal("no large_payment in the report")
	}
	if rep.Decisions.Compared != 240 || rep.Decisions.Changed != band(3000, 5000) {
		t.Errorf("decisions %+v, want 240 compared and %d changed", rep.Decisions, band(3000, 5000))
	}
	html := readFile(t, page)
	if !strings.Contains(html, "<svg") || !strings.Contains(html, "HEAD ("+commit+")") {
		t.Errorf("the HTML report lacks its charts or base")
	}

	// the same change against a gate it breaks fails the job
	res = vigilEnv(t, []string{}, "backtest", "--policies", policies, "--data", data, "--label", "fraud",
		"--base", "HEAD", "--min-precision", "0.99")
	if res.code != 1 || !strings.Contains(res.stdout, "FAIL precision large_payment: rule large_payment: precision ") {
		t.Errorf("exit %d\n%s", res.code, res.stdout)
	}

	// a directory works as a base too; an unknown revision is named
	base := filepath.Join(t.TempDir(), "base")
	runGit(t, repo, "worktree", "add", "-q", base, "HEAD")
	res = vigilEnv(t, []string{}, "backtest", "--policies", policies, "--data", data, "--label", "fraud", "--base", filepath.Join(base, "policies"), "-o", "markdown")
	if res.code != 0 || !strings.Contains(res.stdout, fmt.Sprintf("| `large_payment` | enforce | **changed** | %d → %d (%+d) |", hitsB, hitsA, hitsA-hitsB)) {
		t.Errorf("directory base: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	res = vigilEnv(t, []string{}, "backtest", "--policies", policies, "--data", data, "--label", "fraud", "--base", "no-such-branch")
	if res.code != 1 || !strings.Contains(res.stderr, "vigil: --base no-such-branch: not a file, a directory or a git revision of ") {
		t.Errorf("unknown base: exit %d, stderr %q", res.code, res.stderr)
	}
}

func TestBundleBuildSignAndVerify(t *testing.T) {
	dir := t.TempDir()
	key, pub := filepath.Join(dir, "key.pem"), filepath.Join(dir, "key.pub")
	writeRSAKeys(t, key, pub)
	out := filepath.Join(dir, "dist", "bundle.tar.gz")

	res := vigilEnv(t, []string{}, "bundle", "build", "--policies", shippedPolicies, "--out", out, "--revision", "3f2a9c1e0b7d", "--signing-key", key)
	if res.code != 0 || !strings.HasPrefix(res.stdout, out+": revision 3f2a9c1e0b7d, 24 rules, ") || !strings.HasSuffix(res.stdout, "roots risk, signed\n") {
		t.Fatalf("build: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	res = vigilEnv(t, []string{}, "bundle", "verify", out, "--verification-key", pub, "--require-signature")
	if res.code != 0 || res.stdout != out+": ok, revision 3f2a9c1e0b7d, 24 rules, signature verified\n" {
		t.Fatalf("verify: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}

	// the runner verifies at load: a signed bundle serves, stamped with its revision
	work := t.TempDir()
	cfg := writeConfig(t, work, out, "")
	replaceInFile(t, cfg, "  watch: false\n", fmt.Sprintf("  watch: false\n  verification_key: %s\n  require_signature: true\n", pub))
	r := startRunner(t, []string{}, "--config", cfg)
	var d struct {
		PolicyRevision string `json:"policy_revision"`
	}
	if code := post(t, r.url+"/v1/decide", `{"id":"s-1","ts":"2026-03-01T10:00:00Z","type":"payment","card_id":"c-1","amount":5,"currency":"EUR"}`, &d); code != 200 || d.PolicyRevision != "3f2a9c1e0b7d" {
		t.Errorf("decide under the signed bundle: %d, revision %q", code, d.PolicyRevision)
	}
	r.shutdown(t)

	// unsigned: refused when signatures are required, with one line
	unsigned := filepath.Join(dir, "unsigned.tar.gz")
	if res := vigilEnv(t, []string{}, "bundle", "build", "--policies", shippedPolicies, "--out", unsigned); res.code != 0 {
		t.Fatal(res.stderr)
	}
	res = vigilEnv(t, []string{}, "run", "--config", cfg, "--policies", unsigned, "--addr", freeAddr(t))
	if want := fmt.Sprintf("vigil: policies %s: %s: unsigned bundle refused: signatures are required (policies.require_signature) and the bundle has no .signatures.json\n", unsigned, unsigned); res.code != 1 || res.stderr != want {
		t.Errorf("unsigned: exit %d, stderr %q\nwant %q", res.code, res.stderr, want)
	}
	res = vigilEnv(t, []string{}, "bundle", "verify", unsigned, "--verification-key", pub, "--require-signature")
	if res.code != 1 || !strings.Contains(res.stderr, "unsigned bundle refused") {
		t.Errorf("verify unsigned: exit %d, stderr %q", res.code, res.stderr)
	}
}

func writeRSAKeys(t *testing.T, private, public string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(private, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(public, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	files, err := filepath.Glob("../../../deploy/*.yaml")
	if err != nil || len(files) != 3 {
		t.Fatalf("deploy configs: %v %v", files, err)
	}
	for _, f := range files {
		if res := vigilEnv(t, []string{}, "config", "validate", f); res.code != 0 || res.stdout != f+": ok\n" {
			t.Errorf("%s: exit %d\n%s%s", f, res.code, res.stdout, res.stderr)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("policies:\n  require_signature: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := vigilEnv(t, []string{"VIGIL_POLICIES__VERIFICATION_KEY=/k.pub"}, "config", "validate", bad)
	if res.code != 1 || res.stderr != "vigil: config: policies.require_signature: needs policies.verification_key, the key signed bundles are checked against\n" {
		t.Errorf("bad config: exit %d, stderr %q (the environment must not rescue a file)", res.code, res.stderr)
	}
}

func TestHealth(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
	defer srv.Close()
	if res := vigilEnv(t, []string{}, "health", "--url", srv.URL+"/healthz"); res.code != 0 {
		t.Errorf("healthy: exit %d, %s", res.code, res.stderr)
	}
	status = http.StatusServiceUnavailable
	if res := vigilEnv(t, []string{}, "health", "--url", srv.URL+"/healthz"); res.code != 1 || !strings.Contains(res.stderr, "503 Service Unavailable") {
		t.Errorf("unhealthy: exit %d, %q", res.code, res.stderr)
	}
	srv.Close()
	if res := vigilEnv(t, []string{}, "health", "--url", srv.URL+"/healthz", "--timeout", "1s"); res.code != 1 || !strings.HasPrefix(res.stderr, "vigil: health: ") {
		t.Errorf("down: exit %d, %q", res.code, res.stderr)
	}
}
