package record

import (
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The Fraud-Detection-Handbook CSV must decode with the shipped schema and
// deployment options alone (fixtures/fdh/SOURCE.md).

func TestFDHSample(t *testing.T) {
	f, err := os.Open("../../fixtures/fdh/transactions-sample.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := newNormalizer(t, shippedSchema(t), fdhOptions())
	items := readAll(t, NewReader(f, FormatFor(f.Name()), "file:transactions-sample.csv", n))
	if len(items) != 200 {
		t.Fatalf("got %d records, want the 200 rows of the sample", len(items))
	}
	for i, it := range items {
		if it.dead != nil {
			t.Fatalf("row %d is a dead letter: %v", i, it.dead)
		}
	}
	tests := []struct {
		row                       int
		id, ts, customer, terminl string
		amount                    float64
		seconds                   string
	}{
		{0, "0", "2018-04-01T00:00:31Z", "596", "3156", 57.16, "31"},
		{2, "2", "2018-04-01T00:07:56Z", "2", "1365", 146.0, "476"},
		{46, "45", "2018-04-01T00:36:39Z", "855", "4297", 78.32, "2199"}, // ids are not always in row order
		{199, "199", "2018-04-01T02:08:19Z", "3128", "7993", 41.12, "7699"},
	}
	for _, tt := range tests {
		rec := items[tt.row].rec
		want := map[string]any{
			"id": tt.id, "ts": tt.ts, "customer_id": tt.customer, "terminal_id": tt.terminl, "amount": tt.amount,
			"fraud": false, "type": "payment", "currency": "EUR",
			"TX_TIME_SECONDS": tt.seconds, "TX_TIME_DAYS": "0", "TX_FRAUD_SCENARIO": "0", // unknown columns stay strings
		}
		for k, v := range want {
			if rec.Fields[k] != v {
				t.Errorf("row %d: %s = %#v, want %#v", tt.row, k, rec.Fields[k], v)
			}
		}
		if len(rec.Fields) != len(want) {
			t.Errorf("row %d: %d fields, want %d: %v", tt.row, len(rec.Fields), len(want), rec.Fields)
		}
		wantTime, _ := time.Parse(time.RFC3339, tt.ts)
		if rec.ID != tt.id || rec.Type != "payment" || !rec.Time.Equal(wantTime) || rec.Time.Location() != time.UTC {
			t.Errorf("row %d: ID/Type/Time = %q/%q/%v", tt.row, rec.ID, rec.Type, rec.Time)
		}
	}
}

// TestFDHFull decodes the whole 14-day file: every row, in time order, with
// the published fraud count.
func TestFDHFull(t *testing.T) {
	dir := os.Getenv("DATASETS_DIR")
	if dir == "" {
		t.Skip("DATASETS_DIR not set: skipping test over the full FDH 14-day file")
	}
	f, err := os.Open(filepath.Join(dir, "fraud-detection-handbook-sim", "transactions-2018-04-01_2018-04-14.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := newNormalizer(t, shippedSchema(t), fdhOptions())
	r := NewReader(f, FormatAuto, "file:fdh-14d.csv", n)
	var (
		rows, frauds int
		sum          float64
		last         time.Time
		ids          = make(map[string]bool, 134288)
	)
	for {
		rec, dl, err := r.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
		if dl != nil {
			t.Fatalf("dead letter: %v", dl)
		}
		rows++
		if rec.Time.Before(last) {
			t.Fatalf("row %d: %v is before the row above (%v)", rows, rec.Time, last)
		}
		last = rec.Time
		if ids[rec.ID] {
			t.Fatalf("row %d: id %s repeats", rows, rec.ID)
		}
		ids[rec.ID] = true
		if rec.Fields["fraud"] == true {
			frauds++
		}
		sum += rec.Fields["amount"].(float64)
	}
	// SOURCE.md: 134,288 rows, fraud rate 0.351% (75 + 192 + 204 = 471 frauds).
	if rows != 134288 || frauds != 471 {
		t.Fatalf("got %d rows with %d frauds, want 134288 with 471", rows, frauds)
	}
	if math.Abs(sum-7176204.21) > 0.01 {
		t.Fatalf("amounts sum to %.2f, want 7176204.21", sum)
	}
	if want := time.Date(2018, 4, 14, 23, 59, 43, 0, time.UTC); !last.Equal(want) {
		t.Fatalf("last transaction at %v, want %v", last, want)
	}
}
