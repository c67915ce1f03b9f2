package policy

import (
	"context"
	"testing"
)

// TestLoadStarterPack loads the real bundle in /policies: it must compile
// strictly and every rule must carry valid metadata.
func TestLoadStarterPack(t *testing.T) {
	p, err := Load(context.Background(), "../../policies")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Rules) == 0 || p.Schema == nil {
		t.Fatalf("rules = %d, schema = %v", len(p.Rules), p.Schema)
	}
	for _, r := range p.Rules {
		if !p.Schema.HasField(r.Entity) {
			t.Errorf("rule %s: entity %q is not a schema field", r.Name, r.Entity)
		}
	}
	d, err := p.Decide(context.Background(), &Input{Record: map[string]any{"id": "t-1", "ts": "2026-01-02T03:04:05Z", "type": "payment", "amount": 1.0, "currency": "EUR"}})
	if err != nil {
		t.Fatal(err)
	}
	if d.PolicyRevision != p.Revision || d.RecordID != "t-1" {
		t.Errorf("decision = %+v", d)
	}
	t.Logf("%d rules, revision %s, a small payment: %s", len(p.Rules), p.Revision, d.Action)
}
