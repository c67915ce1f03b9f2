package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"testing"
)

// testSchema exercises every field option; the shipped schema is tested on
// its own below.
const testSchema = `version: 1
unknown_fields: keep
fields:
  id: {type: string, required: true, trim: true, max_length: 20, aliases: [event_id, txn]}
  ts: {type: timestamp, required: true, aliases: [timestamp]}
  type: {type: string, required: true, trim: true, lower: true, enum: [payment, login], default: payment}
  amount: {type: number, min: 0, max: 1000}
  count: {type: integer}
  code: {type: string, trim: true, upper: true, pattern: '^[A-Z]{3}$'}
  note: {type: string, empty_as_null: true}
  ok: {type: boolean}
  meta: {type: object}
  tags: {type: array}
`

func parseTestSchema(t testing.TB) *Schema {
	t.Helper()
	s, err := ParseSchema([]byte(testSchema), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func shippedSchema(t testing.TB) *Schema {
	t.Helper()
	data, err := os.ReadFile("../../policies/schema.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSchema(data, "policies/schema.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newNormalizer(t testing.TB, s *Schema, o Options) *Normalizer {
	t.Helper()
	n, err := NewNormalizer(s, o)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// decodeJSON decodes a test input the way the Reader does (numbers kept as
// json.Number), so that normalisation sees what it sees in production.
func decodeJSON(t testing.TB, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("test input %s: %v", s, err)
	}
	return m
}

// item is what one call of Reader.Next gave.
type item struct {
	rec  Record
	dead *DeadLetter
}

// readAll drains a Reader, failing the test on an error other than io.EOF.
func readAll(t testing.TB, r *Reader) []item {
	t.Helper()
	var out []item
	for {
		rec, dl, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("Next: %v", err)
		}
		if (dl == nil) == (rec.Fields == nil) {
			t.Fatalf("Next gave record %+v and dead letter %+v: want exactly one", rec, dl)
		}
		out = append(out, item{rec, dl})
	}
}
