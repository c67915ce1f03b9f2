package check

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-githubactions"
)

// labelledPayment is one record of the synthetic dataset, as the test knows it.
type labelledPayment struct {
	id, customer string
	ts           time.Time
	amount       float64
	fraud        bool
}

// writeDataset writes n EUR payments over three days as JSONL with a fraud
// column, amounts spread from 1000 to 6900.
func writeDataset(t *testing.T, n int) (string, []labelledPayment) {
	t.Helper()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	var out []labelledPayment
	for i := range n {
		p := labelledPayment{
			id:       fmt.Sprintf("t-%04d", i),
			customer: fmt.Sprintf("cus-%03d", i%(n/2)),
			ts:       start.Add(time.Duration(i) * 3 * 24 * time.Hour / time.Duration(n)),
			amount:   float64(1000 + (i*37%60)*100),
			fraud:    i%7 == 0 || (i%3 == 0 && (i*37%60) >= 30),
		}
		out = append(out, p)
		line, _ := json.Marshal(map[string]any{
			"id": p.id, "ts": p.ts.Format(time.RFC3339), "type": "payment", "customer_id": p.customer,
			"card_id": fmt.Sprintf("ctok_%06d", i%60), "amount": p.amount, "currency": "EUR", "mcc": "5411",
			"channel": "pos", "merchant_country": "FR", "card_country": "FR", "fraud": p.fraud,
		})
		buf.Write(append(line, '\n'))
	}
	path := filepath.Join(t.TempDir(), "labelled.jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, out
}

// thresholdBundles are the shipped policies twice: the base with the large
// payment threshold at 5000 EUR, the head at 3000.
func thresholdBundles(t *testing.T) (base, head string) {
	t.Helper()
	base, _ = brokenCopy(t)
	head, _ = brokenCopy(t)
	edit(t, filepath.Join(head, "risk/config/data.json"), `"EUR": 5000`, `"EUR": 3000`)
	return base, head
}

// expected counts a threshold's hits, true positives and alerts (one per
// customer: an alert stays open for the whole replay) from the dataset.
func expected(data []labelledPayment, threshold float64) (hits, tp, alerts int) {
	customers := map[string]bool{}
	for _, p := range data {
		if p.amount >= threshold {
			hits++
			if p.fraud {
				tp++
			}
			customers[p.customer] = true
		}
	}
	return hits, tp, len(customers)
}

func TestImpactOfAThreshold(t *testing.T) {
	base, head := thresholdBundles(t)
	data, rows := writeDataset(t, 300)
	limit := 0.05
	rep, err := Impact(context.Background(), ImpactOptions{
		Backtest:         BacktestOptions{Policies: head, Data: data, Label: "fraud"},
		Base:             base,
		BaseRef:          "main",
		Examples:         2,
		MaxAlertIncrease: &limit,
		MinPrecision:     0.99,
	})
	if err != nil {
		t.Fatal(err)
	}

	frauds, days := 0, map[string]bool{}
	for _, p := range rows {
		if p.fraud {
			frauds++
		}
		days[p.ts.Format(time.DateOnly)] = true
	}
	if rep.Base.Records != len(rows) || rep.Head.Records != len(rows) || rep.Head.Frauds != frauds || rep.Head.Days != len(days) {
		t.Fatalf("records %d/%d, frauds %d, days %d; want %d records, %d frauds, %d days",
			rep.Base.Records, rep.Head.Records, rep.Head.Frauds, rep.Head.Days, len(rows), frauds, len(days))
	}

	hitsB, tpB, alertsB := expected(rows, 5000)
	hitsA, tpA, alertsA := expected(rows, 3000)
	var large *RuleDelta
	for i, d := range rep.Rules {
		if d.Rule == "large_payment" {
			large = &rep.Rules[i]
			continue
		}
		// nothing else changed, so no other rule may move
		before, after := *d.Before, *d.After
		before.File, after.File = "", "" // the two bundles sit in two directories
		if d.Status != "unchanged" || before != after {
			t.Errorf("rule %s moved: %+v → %+v", d.Rule, d.Before, d.After)
		}
	}
	if large == nil || large.Status != "changed" {
		t.Fatalf("large_payment = %+v, want changed", large)
	}
	b, a := large.Before, large.After
	if b.Hits != hitsB || b.TruePos != tpB || a.Hits != hitsA || a.TruePos != tpA {
		t.Errorf("hits %d → %d, true positives %d → %d; want %d → %d and %d → %d", b.Hits, a.Hits, b.TruePos, a.TruePos, hitsB, hitsA, tpB, tpA)
	}
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-9 }
	if !near(b.Precision, float64(tpB)/float64(hitsB)) || !near(a.Precision, float64(tpA)/float64(hitsA)) ||
		!near(b.Recall, float64(tpB)/float64(frauds)) || !near(a.Recall, float64(tpA)/float64(frauds)) {
		t.Errorf("precision %v → %v, recall %v → %v", b.Precision, a.Precision, b.Recall, a.Recall)
	}
	if b.Alerts != alertsB || a.Alerts != alertsA ||
		!near(b.AlertsPerDay, float64(alertsB)/float64(len(days))) || !near(a.AlertsPerDay, float64(alertsA)/float64(len(days))) {
		t.Errorf("alerts %d → %d (%v → %v per day), want %d → %d over %d days", b.Alerts, a.Alerts, b.AlertsPerDay, a.AlertsPerDay, alertsB, alertsA, len(days))
	}
	// only this rule's alerts changed
	if rep.Head.Alerts-rep.Base.Alerts != alertsA-alertsB {
		t.Errorf("total alerts %d → %d, want a change of %d", rep.Base.Alerts, rep.Head.Alerts, alertsA-alertsB)
	}

	// every record in [3000, 5000) now hits large_payment, and no other changed
	band := map[string]bool{}
	for _, p := range rows {
		if p.amount >= 3000 && p.amount < 5000 {
			band[p.id] = true
		}
	}
	d := rep.Decisions
	if d.Compared != len(rows) || d.Changed != len(band) || d.OnlyBase != 0 || d.OnlyHead != 0 {
		t.Errorf("decisions: compared %d, changed %d (only %d/%d); want %d, %d", d.Compared, d.Changed, d.OnlyBase, d.OnlyHead, len(rows), len(band))
	}
	sum := 0
	for _, tr := range d.Transitions {
		sum += tr.Count
		if tr.To == "allow" || len(tr.Examples) == 0 || len(tr.Examples) > 2 {
			t.Errorf("transition %+v", tr)
		}
		for _, e := range tr.Examples {
			if !band[e.ID] || !strings.Contains(strings.Join(e.After.Hits, ","), "large_payment") ||
				strings.Contains(strings.Join(e.Before.Hits, ","), "large_payment") {
				t.Errorf("example %+v is not a record the new threshold caught", e)
			}
		}
	}
	if sum != d.Changed {
		t.Errorf("transitions add up to %d, want %d", sum, d.Changed)
	}

	// gates: alerts grew by more than 5%; large_payment's precision is far below 0.99
	if rep.OK() || len(rep.Gates) != 2 {
		t.Fatalf("gates = %+v, want two failures", rep.Gates)
	}
	beforeDay, afterDay := rep.AlertsPerDay()
	if g := rep.Gates[0]; g.OK || g.Msg != fmt.Sprintf("alerts per day %.1f → %.1f (%+.1f%%), allowed at most +5.0%%", beforeDay, afterDay, 100*(afterDay-beforeDay)/beforeDay) {
		t.Errorf("alert gate = %+v", g)
	}
	if g := rep.Gates[1]; g.OK || g.File != filepath.Join(head, "risk/rules/large_payment.rego") || g.Line != 1 ||
		!strings.HasPrefix(g.Msg, fmt.Sprintf("rule large_payment: precision %.3f (%d of %d hits are fraud; was %.3f) is below the required 0.990", a.Precision, tpA, hitsA, b.Precision)) {
		t.Errorf("precision gate = %+v", g)
	}

	// the reports say the same
	var md, text, page bytes.Buffer
	rep.WriteMarkdown(&md)
	rep.WriteText(&text)
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	row := fmt.Sprintf("| `large_payment` | enforce | **changed** | %d → %d (%+d) | %.3f → %.3f |", hitsB, hitsA, hitsA-hitsB, b.Precision, a.Precision)
	if !strings.Contains(md.String(), row) || !strings.Contains(md.String(), "### ❌ Impact of this change") {
		t.Errorf("markdown lacks %q:\n%s", row, md.String())
	}
	if !strings.Contains(text.String(), fmt.Sprintf("decisions changed: %d of %d", d.Changed, d.Compared)) || !strings.Contains(text.String(), "FAIL: a gate failed") {
		t.Errorf("text:\n%s", text.String())
	}
	html := page.String()
	for _, want := range []string{"<svg", "Alerts per day by rule", ">large_payment</text>", "<title>large_payment head: " + fmt.Sprint(hitsA) + "</title>"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	for _, banned := range []string{"<script", "http://", "https://"} {
		if strings.Contains(strings.ReplaceAll(html, `xmlns="http://www.w3.org/2000/svg"`, ""), banned) {
			t.Errorf("HTML is not self-contained: it has %q", banned)
		}
	}
}

func TestImpactNewAndRemovedRules(t *testing.T) {
	base, head := thresholdBundles(t)
	for _, f := range []string{"large_payment.rego", "large_payment_test.rego"} {
		if err := os.Remove(filepath.Join(head, "risk/rules", f)); err != nil {
			t.Fatal(err)
		}
	}
	rule, _ := os.ReadFile(filepath.Join(base, "risk/rules/large_payment.rego"))
	renamed := strings.Replace(string(rule), "package risk.rules.large_payment", "package risk.rules.big_payment", 1)
	if err := os.WriteFile(filepath.Join(head, "risk/rules/big_payment.rego"), []byte(renamed), 0o644); err != nil {
		t.Fatal(err)
	}
	data, rows := writeDataset(t, 120)
	rep, err := Impact(context.Background(), ImpactOptions{Backtest: BacktestOptions{Policies: head, Data: data, Label: "fraud"}, Base: base})
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, d := range rep.Rules {
		status[d.Rule] = d.Status
	}
	if status["large_payment"] != "removed" || status["big_payment"] != "new" {
		t.Errorf("statuses = %v", status)
	}
	hits, _, _ := expected(rows, 3000)
	for _, d := range rep.Rules {
		if d.Rule == "big_payment" && (d.Before != nil || d.After.Hits != hits) {
			t.Errorf("big_payment = %+v, want %d hits and no base", d, hits)
		}
		if d.Rule == "large_payment" && d.After != nil {
			t.Errorf("large_payment = %+v, want no head", d)
		}
	}
	if !rep.OK() || len(rep.Gates) != 0 {
		t.Errorf("without gates the report passes: %+v", rep.Gates)
	}
}

func TestImpactOnGitHub(t *testing.T) {
	base, head := thresholdBundles(t)
	data, _ := writeDataset(t, 120)
	limit := 0.0
	rep, err := Impact(context.Background(), ImpactOptions{Backtest: BacktestOptions{Policies: head, Data: data, Label: "fraud"}, Base: base, MaxAlertIncrease: &limit})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"), "GITHUB_OUTPUT": filepath.Join(dir, "output")}
	var out bytes.Buffer
	a := githubactions.New(githubactions.WithWriter(&out), githubactions.WithGetenv(func(k string) string { return env[k] }))
	if err := rep.Write(&out, FormatGitHub, a); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "::error title=vigil backtest%3A alert volume::alerts per day ") {
		t.Errorf("no annotation for the failed gate:\n%s", out.String())
	}
	summary, _ := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
	if !strings.Contains(string(summary), "### ❌ Impact of this change") || !strings.Contains(string(summary), "| `large_payment` |") {
		t.Errorf("summary:\n%s", summary)
	}
	outputs, _ := os.ReadFile(env["GITHUB_OUTPUT"])
	for _, want := range []string{"ok<<_GitHubActionsFileCommandDelimeter_\nfalse\n", "rules_changed<<_GitHubActionsFileCommandDelimeter_\n1\n",
		fmt.Sprintf("decisions_changed<<_GitHubActionsFileCommandDelimeter_\n%d\n", rep.Decisions.Changed)} {
		if !strings.Contains(string(outputs), want) {
			t.Errorf("outputs lack %q:\n%s", want, outputs)
		}
	}

	// off Actions nothing is written, and nothing panics
	env = map[string]string{}
	out.Reset()
	if err := rep.Write(&out, FormatGitHub, githubactions.New(githubactions.WithWriter(&out), githubactions.WithGetenv(func(k string) string { return env[k] }))); err != nil {
		t.Fatal(err)
	}
}

// A plain backtest (no base) under Actions: the Markdown report in the job
// summary, its numbers as outputs; JUnit lists the rules.
func TestBacktestReportFormats(t *testing.T) {
	_, head := thresholdBundles(t)
	data, rows := writeDataset(t, 90)
	rep, err := Backtest(context.Background(), BacktestOptions{Policies: head, Data: data, Label: "fraud"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"), "GITHUB_OUTPUT": filepath.Join(dir, "output")}
	var out bytes.Buffer
	a := githubactions.New(githubactions.WithWriter(&out), githubactions.WithGetenv(func(k string) string { return env[k] }))
	if err := rep.Write(&out, FormatGitHub, a); err != nil {
		t.Fatal(err)
	}
	summary, _ := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
	outputs, _ := os.ReadFile(env["GITHUB_OUTPUT"])
	if !strings.Contains(string(summary), "### Backtest: `"+data+"`") ||
		!strings.Contains(string(outputs), fmt.Sprintf("records<<_GitHubActionsFileCommandDelimeter_\n%d\n", len(rows))) {
		t.Errorf("summary:\n%s\noutputs:\n%s", summary, outputs)
	}
	if !strings.Contains(out.String(), "backtest of "+data) {
		t.Errorf("no text report in the log:\n%s", out.String())
	}

	out.Reset()
	if err := rep.Write(&out, FormatJUnit, a); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `<testsuite name="backtest rules" tests="24" failures="0"`) ||
		!strings.Contains(out.String(), `name="large_payment: `) {
		t.Errorf("junit:\n%s", out.String())
	}
}
