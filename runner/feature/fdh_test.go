package feature

import (
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/record"
)

// The Fraud Detection Handbook's features, computed by the engine over the
// handbook's simulated transactions and checked against its definitions
// computed by brute force from the raw rows: for each transaction, the
// customer's transaction count and average amount over 1, 7 and 30 days,
// and the terminal's transaction count and fraud risk over 1, 7 and 30
// days with a 7-day delay (risk = frauds / transactions in (t−7d−w, t−7d],
// 0 when there are none). Frauds come as label records, one right after
// each transaction.

var fdhWindows = []int{1, 7, 30}

func fdhSpecs() string {
	var b strings.Builder
	b.WriteString("version: 1\nfeatures:\n")
	for _, w := range fdhWindows {
		fmt.Fprintf(&b, `  - name: customer_tx_count_%[1]dd
    entity: customer_id
    aggregate: count
    window: %[1]dd
    filter: {type: payment}
  - name: customer_amount_avg_%[1]dd
    entity: customer_id
    aggregate: avg
    field: amount
    window: %[1]dd
    filter: {type: payment}
  - name: customer_amount_sum_%[1]dd
    entity: customer_id
    aggregate: sum
    field: amount
    window: %[1]dd
    filter: {type: payment}
  - name: terminal_tx_count_%[1]dd_d7
    entity: terminal_id
    aggregate: count
    window: %[1]dd
    delay: 7d
    filter: {type: payment}
  - name: terminal_fraud_count_%[1]dd_d7
    entity: terminal_id
    aggregate: count
    window: %[1]dd
    delay: 7d
    at: event_ts
    lateness: 40d
    filter: {type: label, fraud: true}
  - name: terminal_risk_%[1]dd_d7
    aggregate: ratio
    numerator: terminal_fraud_count_%[1]dd_d7
    denominator: terminal_tx_count_%[1]dd_d7
    default: 0
`, w)
	}
	return b.String()
}

// fdhRow is one transaction as the reference sees it.
type fdhRow struct {
	t                  int64 // seconds
	customer, terminal string
	amount             float64
	fraud              bool
}

// readFDH decodes the handbook's CSV with the record package and the
// shipped schema, as the runner does (fixtures/fdh/replay.yaml), except
// that TX_FRAUD stays out of the transaction: it becomes a label record
// applied right after it. It returns the records in order and the rows.
func readFDH(t testing.TB, path string) ([]record.Record, []fdhRow) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := record.NewNormalizer(shippedSchema(t), record.Options{
		Rename: map[string]string{
			"TRANSACTION_ID": "id", "TX_DATETIME": "ts", "CUSTOMER_ID": "customer_id",
			"TERMINAL_ID": "terminal_id", "TX_AMOUNT": "amount",
		},
		Defaults: map[string]any{"type": "payment", "currency": "EUR"},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := record.NewReader(f, record.FormatCSV, "file:"+filepath.Base(path), n)
	var (
		recs []record.Record
		rows []fdhRow
	)
	for {
		rec, dl, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if dl != nil {
			t.Fatalf("dead letter: %v", dl)
		}
		flag, _ := rec.Fields["TX_FRAUD"].(string)
		delete(rec.Fields, "TX_FRAUD")
		row := fdhRow{
			t: rec.Time.Unix(), customer: rec.Fields["customer_id"].(string), terminal: rec.Fields["terminal_id"].(string),
			amount: rec.Fields["amount"].(float64), fraud: flag == "1",
		}
		label, errs := n.Normalize(map[string]any{
			"id": "label-" + rec.ID, "type": "label", "ts": rec.Fields["ts"], "event_ts": rec.Fields["ts"],
			"terminal_id": row.terminal, "customer_id": row.customer, "fraud": row.fraud,
		})
		if errs != nil {
			t.Fatalf("label for %s: %v", rec.ID, errs)
		}
		recs = append(recs, rec, label)
		rows = append(rows, row)
	}
	return recs, rows
}

// fdhReference computes the handbook's features for every row by scanning
// the earlier rows of its customer and terminal; sums are exact (big.Float).
func fdhReference(rows []fdhRow) []map[string]any {
	byCustomer, byTerminal := map[string][]int{}, map[string][]int{}
	out := make([]map[string]any, len(rows))
	sum := new(big.Float).SetPrec(1000)
	for i, r := range rows {
		byCustomer[r.customer] = append(byCustomer[r.customer], i)
		byTerminal[r.terminal] = append(byTerminal[r.terminal], i)
		want := map[string]any{}
		for _, w := range fdhWindows {
			span := int64(w) * 86400
			n := 0
			sum.SetFloat64(0)
			idx := byCustomer[r.customer]
			for k := len(idx) - 1; k >= 0 && rows[idx[k]].t > r.t-span; k-- {
				n++
				sum.Add(sum, big.NewFloat(rows[idx[k]].amount))
			}
			s, _ := sum.Float64()
			want[fmt.Sprintf("customer_tx_count_%dd", w)] = float64(n)
			want[fmt.Sprintf("customer_amount_sum_%dd", w)] = s
			want[fmt.Sprintf("customer_amount_avg_%dd", w)] = s / float64(n)

			const delay = 7 * 86400
			txs, frauds := 0, 0
			for _, j := range byTerminal[r.terminal] {
				if c := rows[j].t; c > r.t-delay-span && c <= r.t-delay {
					txs++
					if rows[j].fraud {
						frauds++
					}
				}
			}
			risk := 0.0
			if txs > 0 {
				risk = float64(frauds) / float64(txs)
			}
			want[fmt.Sprintf("terminal_tx_count_%dd_d7", w)] = float64(txs)
			want[fmt.Sprintf("terminal_fraud_count_%dd_d7", w)] = float64(frauds)
			want[fmt.Sprintf("terminal_risk_%dd_d7", w)] = risk
		}
		out[i] = want
	}
	return out
}

func checkFDH(t *testing.T, path string) (frauds, riskyReads int) {
	recs, rows := readFDH(t, path)
	want := fdhReference(rows)
	e := mustEngine(t, mustSpecs(t, fdhSpecs(), shippedSchema(t)), nil, Options{})
	for i := range rows {
		got, out := e.Apply(recs[2*i])
		if out.Duplicate || out.Late > 0 {
			t.Fatalf("transaction %s: outcome %+v", recs[2*i].ID, out)
		}
		for name, w := range want[i] {
			g, ok := got[name].(float64)
			exact := !strings.Contains(name, "avg") && !strings.Contains(name, "risk")
			if !ok || (exact && g != w.(float64)) || (!exact && !relClose(g, w.(float64), 1e-9)) {
				t.Fatalf("transaction %s (row %d, %s): %s = %v, want %v", recs[2*i].ID, i+1,
					time.Unix(rows[i].t, 0).UTC().Format(time.RFC3339), name, got[name], w)
			}
		}
		if len(got) != len(want[i]) {
			t.Fatalf("transaction %s: %d features, want %d: %v", recs[2*i].ID, len(got), len(want[i]), got)
		}
		if want[i]["terminal_risk_30d_d7"].(float64) > 0 {
			riskyReads++
		}
		if _, out := e.Apply(recs[2*i+1]); out.Duplicate || out.Late > 0 || (rows[i].fraud && out.Applied != 1) {
			t.Fatalf("label %s: outcome %+v", recs[2*i+1].ID, out)
		}
		if rows[i].fraud {
			frauds++
		}
	}
	return frauds, riskyReads
}

func TestFDHSampleFeatures(t *testing.T) {
	frauds, _ := checkFDH(t, "../../fixtures/fdh/transactions-sample.csv")
	if frauds != 0 {
		t.Errorf("%d frauds in the sample, SOURCE.md says none", frauds)
	}
}

func TestFDHFullFeatures(t *testing.T) {
	dir := os.Getenv("DATASETS_DIR")
	if dir == "" {
		t.Skip("DATASETS_DIR is not set: skipping the exact-features check over the full 14-day FDH file " +
			"(fraud-detection-handbook-sim/transactions-2018-04-01_2018-04-14.csv)")
	}
	if testing.Short() {
		t.Skip("-short: skipping the full 14-day FDH file")
	}
	frauds, risky := checkFDH(t, filepath.Join(dir, "fraud-detection-handbook-sim", "transactions-2018-04-01_2018-04-14.csv"))
	// SOURCE.md: 471 frauds; those of the first week raise terminal risks in the second.
	if frauds != 471 || risky == 0 {
		t.Errorf("%d frauds and %d transactions read a non-zero terminal risk, want 471 and some", frauds, risky)
	}
}
