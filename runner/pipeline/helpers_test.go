package pipeline_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/policy"
	"github.com/vigil-risk/vigil/runner/record"
)

// shippedBundle is the starter pack the runner ships with.
const shippedBundle = "../../policies"

func newEngine(t testing.TB, dir string, opts ...policy.Option) *policy.Engine {
	t.Helper()
	e, err := policy.NewEngine(t.Context(), dir, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func newPipeline(t testing.TB, dir string, opts pipeline.Options) (*pipeline.Pipeline, *policy.Engine) {
	t.Helper()
	e := newEngine(t, dir)
	p, err := pipeline.New(e, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p, e
}

// normalize turns a raw record into what a source would hand the pipeline.
func normalize(t testing.TB, p *pipeline.Pipeline, raw map[string]any) record.Record {
	t.Helper()
	rec, errs := p.Normalizer().Normalize(maps.Clone(raw))
	if errs != nil {
		t.Fatalf("record %v: %v", raw["id"], errs)
	}
	return rec
}

// payment is a typical clean card payment under the shipped schema; extra
// changes or adds fields.
func payment(id string, extra map[string]any) map[string]any {
	m := map[string]any{
		"id": id, "ts": "2026-03-01T14:00:00Z", "type": "payment",
		"customer_id": "cust-0042", "account_id": "acct-0042", "card_id": "card-0042", "device_id": "dev-0042",
		"ip": "10.1.2.3", "email": "ann@example.com",
		"amount": 42.5, "currency": "EUR", "mcc": "5411", "channel": "ecom",
		"card_country": "DE", "ip_country": "DE", "merchant_country": "DE",
		"account_created_at": "2025-01-01T00:00:00Z",
	}
	maps.Copy(m, extra)
	return m
}

// The shipped rules each of these trips, and nothing else.
func blockedCard(id string) map[string]any { // blocked_card: critical, block
	return payment(id, map[string]any{"card_id": "ctok_7Hq2Lm9Xb4"})
}

func largePayment(id string) map[string]any { // large_payment: medium, review
	return payment(id, map[string]any{"amount": 7500.0})
}

func disposableEmail(id string) map[string]any { // disposable_email: low, allow
	return payment(id, map[string]any{"email": "x@mailinator.com"})
}

func sanctioned(id string) map[string]any { // sanctioned_country (and the country mismatch): critical, block
	return payment(id, map[string]any{"ip_country": "IR"})
}

func structuring(id string) map[string]any { // structuring: shadow only
	return map[string]any{"id": id, "ts": "2026-03-01T14:00:00Z", "type": "withdrawal", "account_id": "acct-7",
		"amount": 9500.0, "currency": "EUR", "destination_account": "DE89000000000000000007", "new_destination": false}
}

func jsonl(t testing.TB, records ...map[string]any) string {
	t.Helper()
	var b strings.Builder
	for _, r := range records {
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

func readLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// metric reads one series from reg: a counter's value or a histogram's
// sample count. labels are name, value pairs; the series must match all.
func metric(t testing.TB, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue series
				}
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// A small bundle of our own, for what the starter pack cannot show: an
// evaluation error, the input context, and a reload that changes the schema.
const testSchema = `version: 1
fields:
  id: {type: string, required: true}
  ts: {type: timestamp, required: true}
  type: {type: string, required: true, lower: true}
  card_id: {type: string}
  amount: {type: number, min: 0}
`

func ruleMeta(title, severity, action, mode string) string {
	return fmt.Sprintf("# METADATA\n# title: %s\n# custom:\n#   severity: %s\n#   action: %s\n#   mode: %s\n#   entity: card_id\n#   owner: risk\n",
		title, severity, action, mode)
}

func bigAmountRule(limit int) string {
	return ruleMeta("Big amount", "high", "block", "enforce") + fmt.Sprintf(`package risk.rules.big_amount

hit := {"reason": sprintf("amount %%v is at least %%v", [input.record.amount, limit]), "limit": limit} if {
	limit := %d
	input.record.type == "payment"
	input.record.amount >= limit
}
`, limit)
}

// conflictRule gives hit two values for amount 13 on card c-13: OPA refuses
// to evaluate that (eval_conflict_error).
const conflictRule = `# METADATA
# title: Unlucky
# custom:
#   severity: low
#   action: review
#   mode: enforce
#   entity: card_id
#   owner: risk
package risk.rules.unlucky

hit := {"reason": "amount 13"} if input.record.amount == 13

hit := {"reason": "card c-13"} if input.record.card_id == "c-13"
`

// contextRule echoes input.context for logins, in shadow mode.
const contextRule = `# METADATA
# title: Context echo
# custom:
#   severity: low
#   action: review
#   mode: shadow
#   entity: card_id
#   owner: risk
package risk.rules.context_echo

hit := {"reason": sprintf("%s via %s", [input.context.env, input.context.source])} if input.record.type == "login"
`

// testBundle writes the small bundle into a fresh directory (outside git,
// so that its revision is a hash of its files).
func testBundle(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	writeFile(t, filepath.Join(dir, "schema.yaml"), testSchema)
	writeFile(t, filepath.Join(dir, "risk", "rules", "big_amount.rego"), bigAmountRule(1000))
	writeFile(t, filepath.Join(dir, "risk", "rules", "unlucky.rego"), conflictRule)
	writeFile(t, filepath.Join(dir, "risk", "rules", "context_echo.rego"), contextRule)
	return dir
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func ruleNames(hits []decision.Hit) []string {
	names := make([]string, len(hits))
	for i, h := range hits {
		names[i] = h.Rule
	}
	return names
}
