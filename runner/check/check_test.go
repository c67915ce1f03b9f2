package check

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	shippedPolicies = "../../policies"
	shippedFixtures = "../../fixtures/scenarios"
)

func TestShippedBundlePasses(t *testing.T) {
	rep, err := Run(context.Background(), Options{Policies: shippedPolicies, Fixtures: shippedFixtures, MinCoverage: 80})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rep.WriteText(&out)
	if !rep.OK() {
		t.Fatalf("the shipped bundle must pass:\n%s", out.String())
	}
	if rep.Rules < 12 || rep.ShadowRules < 1 {
		t.Errorf("want at least 12 rules and one in shadow mode, got %d and %d", rep.Rules, rep.ShadowRules)
	}
	if rep.Unit.Passed == 0 || rep.Unit.Coverage < 80 {
		t.Errorf("unit tests: %+v", rep.Unit)
	}
	if rep.Fixtures.Files < 5 || rep.Fixtures.Passed != rep.Fixtures.Records {
		t.Errorf("fixtures: %+v", rep.Fixtures)
	}
	if !strings.HasSuffix(strings.TrimSpace(out.String()), "PASS") {
		t.Errorf("report must end with PASS:\n%s", out.String())
	}
}

// bundle copies the shipped policies and fixtures into a temp dir so a test
// can break one thing.
func brokenCopy(t *testing.T) (policies, fixtures string) {
	t.Helper()
	dir := t.TempDir()
	policies, fixtures = filepath.Join(dir, "policies"), filepath.Join(dir, "fixtures")
	copyDir(t, shippedPolicies, policies)
	copyDir(t, shippedFixtures, fixtures)
	return policies, fixtures
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// edit replaces old with new in a file, failing if old is absent.
func edit(t *testing.T, file, old, new string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func lineOf(t *testing.T, file, needle string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, needle) {
			return i + 1
		}
	}
	t.Fatalf("%s: no line contains %q", file, needle)
	return 0
}

func TestFailuresNameFileAndLine(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(t *testing.T, policies, fixtures string) (file string, line int)
		kind    string
		msg     string
		min     float64
	}{
		{
			name: "rego syntax error",
			breakIt: func(t *testing.T, p, _ string) (string, int) {
				f := filepath.Join(p, "risk/rules/large_payment.rego")
				edit(t, f, "r.amount >= threshold", "r.amount >= >= threshold")
				return f, lineOf(t, f, ">= >=")
			},
			kind: "compile", msg: "rego_parse_error",
		},
		{
			name: "bad metadata",
			breakIt: func(t *testing.T, p, _ string) (string, int) {
				f := filepath.Join(p, "risk/rules/large_payment.rego")
				edit(t, f, "#   severity: medium", "#   severity: huge")
				return f, lineOf(t, f, "severity: huge")
			},
			kind: "compile", msg: `severity "huge"`,
		},
		{
			name: "failing rego unit test",
			breakIt: func(t *testing.T, p, _ string) (string, int) {
				f := filepath.Join(p, "risk/rules/large_payment_test.rego")
				edit(t, f, `"reason": "payment of 5000 EUR is at or above`, `"reason": "payment of 5001 EUR is at or above`)
				return f, 0
			},
			kind: "rego-test", msg: "test_fires_at_threshold",
		},
		{
			name: "rule without unit tests",
			breakIt: func(t *testing.T, p, _ string) (string, int) {
				if err := os.Remove(filepath.Join(p, "risk/rules/large_payment_test.rego")); err != nil {
					t.Fatal(err)
				}
				f := filepath.Join(p, "risk/rules/large_payment.rego")
				return f, lineOf(t, f, "# METADATA")
			},
			kind: "lint", msg: "rule large_payment has no unit tests beside it",
		},
		{
			name: "coverage below the gate",
			breakIt: func(t *testing.T, p, _ string) (string, int) {
				if err := os.Remove(filepath.Join(p, "risk/rules/large_payment_test.rego")); err != nil {
					t.Fatal(err)
				}
				return "", 0
			},
			kind: "coverage", msg: "below the required 100.0%", min: 100,
		},
		{
			name: "fixture expecting another action",
			breakIt: func(t *testing.T, _, fx string) (string, int) {
				f := filepath.Join(fx, "blocklists.yaml")
				edit(t, f, "expect: {action: block, hits: [blocked_card], shadow_hits: []}", "expect: {action: review, hits: [blocked_card, large_payment], shadow_hits: []}")
				return f, lineOf(t, f, "id: blk-card-1") - 0
			},
			kind: "fixture", msg: "want action review, got block; missing hit large_payment",
		},
		{
			name: "invalid fixture record",
			breakIt: func(t *testing.T, _, fx string) (string, int) {
				f := filepath.Join(fx, "blocklists.yaml")
				edit(t, f, "amount: 19.99, currency: EUR", `amount: "lots", currency: EUR`)
				return f, lineOf(t, f, "id: blk-card-1")
			},
			kind: "fixture", msg: `the record is invalid: field "amount": want number`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, fx := brokenCopy(t)
			file, line := tt.breakIt(t, p, fx)
			min := tt.min
			if min == 0 {
				min = 80
			}
			rep, err := Run(context.Background(), Options{Policies: p, Fixtures: fx, MinCoverage: min})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Fatal("a broken bundle must fail")
			}
			var found bool
			for _, pr := range rep.Problems() {
				if pr.Kind != tt.kind || !strings.Contains(pr.Msg, tt.msg) {
					continue
				}
				found = true
				if file != "" && !strings.HasSuffix(pr.File, strings.TrimPrefix(file, p)) && pr.File != file {
					t.Errorf("problem names file %q, want %q", pr.File, file)
				}
				if line > 0 && pr.Line != line {
					t.Errorf("problem names line %d, want %d: %s", pr.Line, line, pr)
				}
			}
			if !found {
				t.Fatalf("no %s problem containing %q in:\n%v", tt.kind, tt.msg, rep.Problems())
			}
			var out strings.Builder
			rep.WriteText(&out)
			if !strings.Contains(out.String(), "FAIL") || !strings.Contains(out.String(), tt.msg) {
				t.Errorf("text report must say FAIL and show the problem:\n%s", out.String())
			}
		})
	}
}

func TestScenarioParseErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"no records", "name: x\nrecords: []\n", "a scenario needs at least one record"},
		{"unknown key", "name: x\nrecrods: []\n", "recrods"},
		{"missing expect", "records:\n  - record: {id: a}\n", "s.yaml:2: records[0]: missing expect"},
		{"bad action", "records:\n  - record: {id: a}\n    expect: {action: deny}\n", `expect.action "deny"`},
		{"unknown step key", "records:\n  - record: {id: a}\n    expect: {action: allow, hit: []}\n", "hit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseScenario([]byte(tt.doc), "s.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}
