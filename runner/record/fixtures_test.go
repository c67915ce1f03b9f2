package record

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFixtureRecords reads the sample streams in fixtures/records (see its
// README) by their extension and by detection, which must agree.
func TestFixtureRecords(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"payments.jsonl", []string{"rec p-1001", "rec p-1002",
			`dead payments.jsonl:3#2: malformed JSON: unexpected end of input`,
			`dead payments.jsonl:4#3: field "amount": -5 is below the minimum 0; field "currency": "EURO" does not match pattern ^[A-Z]{3}$`,
			"rec l-2001"}},
		{"payments.csv", []string{"rec p-1001", "rec p-1002",
			"dead payments.csv:4#2: row has 12 cells, the header has 13",
			`dead payments.csv:5#3: field "amount": -5 is below the minimum 0; field "currency": "EURO" does not match pattern ^[A-Z]{3}$`,
			"rec l-2001"}},
		{"payments.json", []string{"rec p-1001", "rec p-1002", "rec p-1003",
			"dead payments.json:44#3: want a JSON object, got a string", "rec l-2001"}},
	}
	n := newNormalizer(t, shippedSchema(t), Options{})
	for _, tt := range tests {
		for _, format := range []Format{FormatFor(tt.file), FormatAuto} {
			t.Run(tt.file+"/"+string(format), func(t *testing.T) {
				f, err := os.Open(filepath.Join("../../fixtures/records", tt.file))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				items := readAll(t, NewReader(f, format, tt.file, n))
				g := got(items)
				for i := range g {
					g[i], _, _ = strings.Cut(g[i], " | ") // raw bytes are checked elsewhere
				}
				if strings.Join(g, "\n") != strings.Join(tt.want, "\n") {
					t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(g, "\n  "), strings.Join(tt.want, "\n  "))
				}
				recs := map[string]Record{}
				for _, it := range items {
					if it.dead == nil {
						recs[it.rec.ID] = it.rec
					}
				}
				p, l := recs["p-1001"].Fields, recs["l-2001"].Fields
				if p["currency"] != "EUR" || p["channel"] != "pos" || p["merchant_country"] != "DE" || p["amount"] != 12.5 {
					t.Errorf("p-1001 not normalised: %v", p)
				}
				if recs["p-1002"].Fields["amount"] != 1.0 || recs["p-1002"].Fields["ts"] != "2026-01-02T03:05:06Z" {
					t.Errorf("p-1002 not normalised: %v", recs["p-1002"].Fields)
				}
				if l["type"] != "login" || l["ts"] != "2026-01-02T03:06:30Z" || l["customer_id"] != "c-17" {
					t.Errorf("l-2001 not normalised: %v", l)
				}
			})
		}
	}
}
