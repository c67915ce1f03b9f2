package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/check"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/feature/model"
)

// Replaying a stream in two parts, with the feature state snapshotted and
// restored in between, gives the decisions and features of one replay.
func TestReplayInPartsWithStateMatchesOneReplay(t *testing.T) {
	dir := t.TempDir()
	demo := vigil(t, "", "demo", "--count", "600", "--rate", "0", "--seed", "9", "--fraud-rate", "0.2")
	if demo.code != 0 {
		t.Fatalf("demo: %s", demo.stderr)
	}
	lines := strings.SplitAfter(strings.TrimSpace(demo.stdout), "\n")
	// demo records carry wall time; give them event times a second apart
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var all []string
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		m["ts"] = start.Add(time.Duration(i) * time.Second).Format(time.RFC3339)
		b, _ := json.Marshal(m)
		all = append(all, string(b))
	}
	write := func(name string, ls []string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(ls, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	whole, first, second := write("all.jsonl", all), write("a.jsonl", all[:250]), write("b.jsonl", all[250:])
	replay := func(file, state, out string) {
		t.Helper()
		args := []string{"replay", file, "--policies", shippedPolicies, "--log-features", "--out", out}
		if state != "" {
			args = append(args, "--state", state)
		}
		if res := vigil(t, "", args...); res.code != 0 {
			t.Fatalf("replay %s: %s", file, res.stderr)
		}
	}
	replay(whole, "", filepath.Join(dir, "one.jsonl"))
	state := filepath.Join(dir, "features.snapshot")
	replay(first, state, filepath.Join(dir, "p1.jsonl"))
	replay(second, state, filepath.Join(dir, "p2.jsonl"))

	one := withoutLatency(t, filepath.Join(dir, "one.jsonl"), "source")
	parts := append(withoutLatency(t, filepath.Join(dir, "p1.jsonl"), "source"), withoutLatency(t, filepath.Join(dir, "p2.jsonl"), "source")...)
	if len(one) != len(all) || len(parts) != len(one) {
		t.Fatalf("decided %d and %d records of %d", len(one), len(parts), len(all))
	}
	withFeatures, hits := 0, 0
	for i := range one {
		if one[i] != parts[i] {
			t.Fatalf("decision %d differs after the restart:\n%s\n%s", i+1, one[i], parts[i])
		}
		var d decision.Decision
		if err := json.Unmarshal([]byte(one[i]), &d); err != nil {
			t.Fatal(err)
		}
		if d.Features["customer_device_distinct_24h"] != nil {
			withFeatures++
		}
		hits += len(d.Hits)
	}
	if withFeatures < len(one)/2 || hits == 0 {
		t.Fatalf("the decision log must show the features each decision saw: %d of %d with features, %d hits", withFeatures, len(one), hits)
	}
}

// fdhLike writes a small dataset in the handbook's CSV format in which the
// fraud probability grows with the amount, with a few compromised terminals.
func fdhLike(t *testing.T, path string, rows int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(5, 6))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"TRANSACTION_ID", "TX_DATETIME", "CUSTOMER_ID", "TERMINAL_ID", "TX_AMOUNT", "TX_TIME_SECONDS", "TX_TIME_DAYS", "TX_FRAUD", "TX_FRAUD_SCENARIO"})
	start := time.Date(2018, 4, 1, 0, 0, 0, 0, time.UTC)
	for i := range rows {
		ts := start.Add(time.Duration(i) * 2 * time.Minute)
		amount := math.Round(rng.ExpFloat64()*6000) / 100
		terminal := rng.IntN(200)
		p := 0.002 + 0.3*math.Max(0, (amount-150)/300)
		if terminal < 4 {
			p += 0.3
		}
		fraud := "0"
		if rng.Float64() < p {
			fraud = "1"
		}
		_ = w.Write([]string{fmt.Sprint(i), ts.Format("2006-01-02 15:04:05"), fmt.Sprint(rng.IntN(300)), fmt.Sprint(terminal),
			fmt.Sprintf("%.2f", amount), fmt.Sprint(int(ts.Sub(start).Seconds())), fmt.Sprint(int(ts.Sub(start).Hours() / 24)), fraud, "0"})
	}
	w.Flush()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// vigil backtest measures rules and scores against labels it hides from the
// rules; its export trains a model with vigil model train.
func TestBacktestExportAndTrain(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "fdh-like.csv")
	fdhLike(t, data, 12000) // about 17 days
	mapping := filepath.Join(shippedFixtures, "fdh", "replay.yaml")
	export := filepath.Join(dir, "train.csv")
	res := vigil(t, "", "backtest", "--config", mapping, "--policies", shippedPolicies, "--data", data, "--label", "TX_FRAUD",
		"--label-delay", "168h", "--from", "2018-04-09", "--card-field", "customer_id", "--export", export,
		"--export-from", "2018-04-05", "--export-to", "2018-04-12", "-o", "json", "--progress=false")
	if res.code != 0 {
		t.Fatalf("backtest: %s", res.stderr)
	}
	var rep check.BacktestReport
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, res.stdout)
	}
	if rep.Replayed != 12000 || rep.Records == 0 || rep.Frauds == 0 || rep.Exported == 0 {
		t.Fatalf("report: %+v", rep)
	}
	if sum := rep.Actions["allow"] + rep.Actions["review"] + rep.Actions["block"]; sum != rep.Records {
		t.Fatalf("the decision mix %v does not add up to %d records", rep.Actions, rep.Records)
	}
	var terminal *check.RuleStats
	for i := range rep.Rules {
		if rep.Rules[i].Rule == "compromised_terminal" {
			terminal = &rep.Rules[i]
		}
	}
	// the compromised terminals are found from labels revealed a week late
	if terminal == nil || terminal.Hits == 0 || terminal.Precision < 0.2 || terminal.Recall <= 0 {
		t.Fatalf("compromised_terminal: %+v", terminal)
	}

	modelFile := filepath.Join(dir, "amount_lr.yaml")
	res = vigil(t, "", "model", "train", "--data", export, "--name", "amount_lr", "--out", modelFile,
		"--inputs", "amount,time.night,customer_tx_count_1d,terminal_risk_7d_d7")
	if res.code != 0 || !strings.Contains(res.stdout, "trained amount_lr") {
		t.Fatalf("model train: %d %s%s", res.code, res.stdout, res.stderr)
	}
	b, err := os.ReadFile(modelFile)
	if err != nil {
		t.Fatal(err)
	}
	set, err := model.Load(os.DirFS(dir), model.LoadOptions{})
	if err != nil {
		t.Fatalf("the trained model does not load: %v\n%s", err, b)
	}
	low := set.Score(map[string]any{"amount": 20.0}, time.Date(2018, 4, 10, 12, 0, 0, 0, time.UTC), map[string]any{})["amount_lr"]
	high := set.Score(map[string]any{"amount": 400.0}, time.Date(2018, 4, 10, 12, 0, 0, 0, time.UTC), map[string]any{})["amount_lr"]
	if !(high > low) {
		t.Fatalf("the model must learn that large amounts are riskier: P(20)=%v P(400)=%v", low, high)
	}
}

// The handbook's protocol on the real data: train week 2018-07-25..31, 7-day
// delay, test week 2018-08-08..14 with known compromised cards left out. The
// shipped fraud_lr must score as the handbook's logistic regression.
func TestBacktestHandbookProtocol(t *testing.T) {
	dir := os.Getenv("DATASETS_DIR")
	if dir == "" {
		t.Skip("DATASETS_DIR not set: skipping the backtest over the full FDH file (the handbook's train/test protocol)")
	}
	if testing.Short() {
		t.Skip("-short: skipping the 80-second backtest over the full FDH file")
	}
	data := filepath.Join(dir, "fraud-detection-handbook-sim", "transactions-2018-04-01_2018-09-30.csv.gz")
	res := vigil(t, "", "backtest", "--config", filepath.Join(shippedFixtures, "fdh", "replay.yaml"), "--policies", shippedPolicies,
		"--data", data, "--label", "TX_FRAUD", "--label-delay", "168h", "--from", "2018-08-08", "--to", "2018-08-15",
		"--exclude-known-since", "2018-07-25", "--card-field", "customer_id", "-o", "json", "--progress=false")
	if res.code != 0 {
		t.Fatalf("backtest: %s", res.stderr)
	}
	var rep check.BacktestReport
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	// the handbook's test set, exactly
	if rep.Records != 58264 || rep.Frauds != 385 {
		t.Fatalf("test set: %d records, %d frauds; the handbook's has 58,264 and 385", rep.Records, rep.Frauds)
	}
	var raw struct {
		Scores []struct {
			Name string
			AUC  float64 `json:"roc_auc"`
			AP   float64 `json:"average_precision"`
			CP   float64 `json:"card_precision_at_k"`
		}
	}
	_ = json.Unmarshal([]byte(res.stdout), &raw)
	for _, s := range raw.Scores {
		if s.Name != "fraud_lr" {
			continue
		}
		// handbook, logistic regression: AUC 0.871, AP 0.606, CP@100 0.291
		if math.Abs(s.AUC-0.871) > 0.0015 || math.Abs(s.AP-0.606) > 0.0015 || math.Abs(s.CP-0.291) > 0.0015 {
			t.Fatalf("fraud_lr: AUC %.4f AP %.4f CP@100 %.4f; the handbook's logistic regression has 0.871, 0.606, 0.291", s.AUC, s.AP, s.CP)
		}
		t.Logf("fraud_lr on the handbook's test week: AUC %.4f, AP %.4f, CP@100 %.4f", s.AUC, s.AP, s.CP)
		return
	}
	t.Fatalf("no fraud_lr score in %s", res.stdout)
}
