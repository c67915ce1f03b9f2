//go:build !race

package record

import (
	"maps"
	"testing"
)

// TestNormalizeAllocations pins the hot path's allocations: none for a
// record already in normal form, one per value that changes (two for a
// changed string: its bytes and its interface box). Not a timing test.
func TestNormalizeAllocations(t *testing.T) {
	n := newNormalizer(t, shippedSchema(t), Options{})
	decoded := decodeJSON(t, benchPayment)
	clean := maps.Clone(decoded)
	if _, errs := n.Normalize(clean); errs != nil {
		t.Fatal(errs)
	}
	if a := testing.AllocsPerRun(100, func() { n.Normalize(clean) }); a != 0 {
		t.Errorf("Normalize of a clean record: %v allocations, want 0", a)
	}
	// amount (json.Number → float64), failed_attempts ("0" → 0), email (lower), currency (upper).
	fresh := make([]map[string]any, 101)
	for i := range fresh {
		fresh[i] = maps.Clone(decoded)
	}
	i := 0
	a := testing.AllocsPerRun(100, func() {
		n.Normalize(fresh[i])
		i++
	})
	if a > 6 {
		t.Errorf("Normalize of a decoded record: %v allocations, want at most 6", a)
	}
}
