package record

import (
	"io"
	"maps"
	"strings"
	"testing"
)

// benchPayment is a typical payment event, 400 bytes of JSON, with a few
// values that need normalising (email case, currency case, numeric string).
const benchPayment = `{"id":"p-000123456","ts":"2026-01-02T03:04:05.123Z","type":"payment","customer_id":"c-4128",` +
	`"account_id":"a-88231","card_id":"card-9f2a1c","card_bin":"457173","device_id":"d-77a1","merchant_id":"m-301",` +
	`"email":"Ann.Smith@Example.com","ip":"203.0.113.9","amount":64.49,"currency":"eur","mcc":"5411","channel":"ecom",` +
	`"card_country":"DE","ip_country":"NL","merchant_country":"DE","failed_attempts":"0","session":"s-8e1f"}`

// repeatReader is an endless stream of the same line.
type repeatReader struct {
	line []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.line[r.off:])
		n += c
		r.off = (r.off + c) % len(r.line)
	}
	return n, nil
}

// BenchmarkDecodeJSONL is the cost of one JSONL record from bytes to a
// normalised Record.
func BenchmarkDecodeJSONL(b *testing.B) {
	n := newNormalizer(b, shippedSchema(b), Options{})
	line := []byte(benchPayment + "\n")
	r := NewReader(&repeatReader{line: line}, FormatJSONL, "bench", n)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		rec, dl, err := r.Next()
		if err != nil || dl != nil || rec.ID != "p-000123456" {
			b.Fatal(rec, dl, err)
		}
	}
}

// BenchmarkDecodeCSV is the same for a Fraud-Detection-Handbook CSV row,
// renamed and defaulted by Options.
func BenchmarkDecodeCSV(b *testing.B) {
	n := newNormalizer(b, shippedSchema(b), fdhOptions())
	const header = "TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_TIME_SECONDS,TX_TIME_DAYS,TX_FRAUD,TX_FRAUD_SCENARIO\n"
	row := []byte("3,2018-04-01T00:09:29Z,4128,8737,64.49,569,0,0,0\n")
	r := NewReader(io.MultiReader(strings.NewReader(header), &repeatReader{line: row}), FormatCSV, "bench", n)
	b.SetBytes(int64(len(row)))
	b.ReportAllocs()
	for b.Loop() {
		rec, dl, err := r.Next()
		if err != nil || dl != nil || rec.ID != "3" {
			b.Fatal(rec, dl, err)
		}
	}
}

// BenchmarkNormalize measures Normalize alone on a decoded map: "decoded" as
// the JSON decoder leaves it (json.Number, mixed case), "clean" already in
// normal form (the floor: no allocation at all).
func BenchmarkNormalize(b *testing.B) {
	n := newNormalizer(b, shippedSchema(b), Options{})
	decoded := decodeJSON(b, benchPayment)
	b.Run("decoded", func(b *testing.B) {
		// Normalize works in place, so each iteration needs a fresh map:
		// they are copied in batches with the timer stopped.
		batch := make([]map[string]any, 1024)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if i%len(batch) == 0 {
				b.StopTimer()
				for j := range batch {
					batch[j] = maps.Clone(decoded)
				}
				b.StartTimer()
			}
			if _, errs := n.Normalize(batch[i%len(batch)]); errs != nil {
				b.Fatal(errs)
			}
		}
	})
	b.Run("clean", func(b *testing.B) {
		m := maps.Clone(decoded)
		if _, errs := n.Normalize(m); errs != nil {
			b.Fatal(errs)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, errs := n.Normalize(m); errs != nil {
				b.Fatal(errs)
			}
		}
	})
}
