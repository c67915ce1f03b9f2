package feature

import (
	"os"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/record"
)

func shippedSchema(t testing.TB) *record.Schema {
	t.Helper()
	data, err := os.ReadFile("../../policies/schema.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := record.ParseSchema(data, "policies/schema.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustSpecs(t testing.TB, yaml string, schema *record.Schema) *Specs {
	t.Helper()
	s, err := ParseSpecs([]byte(yaml), "features.yaml", schema)
	if err != nil {
		t.Fatalf("ParseSpecs: %v", err)
	}
	return s
}

func mustEngine(t testing.TB, specs *Specs, store Store, o Options) *Engine {
	t.Helper()
	e, err := NewEngine(specs, store, o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// normalizer builds records the way the pipeline does: through the shipped
// schema.
type normalizer struct {
	t testing.TB
	n *record.Normalizer
}

func newNormalizer(t testing.TB) normalizer {
	t.Helper()
	n, err := record.NewNormalizer(shippedSchema(t), record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return normalizer{t, n}
}

// rec normalises fields (ts may be a time.Time) into a record.
func (n normalizer) rec(fields map[string]any) record.Record {
	n.t.Helper()
	m := make(map[string]any, len(fields))
	for k, v := range fields {
		if tv, ok := v.(time.Time); ok {
			v = tv.UTC().Format(time.RFC3339Nano)
		}
		m[k] = v
	}
	r, errs := n.n.Normalize(m)
	if errs != nil {
		n.t.Fatalf("record %v: %v", fields, errs)
	}
	return r
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }
