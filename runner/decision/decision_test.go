package decision

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAggregate(t *testing.T) {
	tests := []struct {
		name       string
		hits       []Hit
		wantAction Action
		wantScore  int
	}{
		{"nothing fired", nil, Allow, 0},
		{"one high review", []Hit{{Severity: High, Action: Review}}, Review, 70},
		{"block beats review", []Hit{{Severity: Low, Action: Review}, {Severity: Medium, Action: Block}}, Block, 40},
		{"allow hit still scores", []Hit{{Severity: Low, Action: Allow}}, Allow, 10},
		{"score is capped", []Hit{{Severity: Critical, Action: Block}, {Severity: High, Action: Review}}, Block, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, s := Aggregate(tt.hits)
			if a != tt.wantAction || s != tt.wantScore {
				t.Fatalf("Aggregate = %s, %d; want %s, %d", a, s, tt.wantAction, tt.wantScore)
			}
		})
	}
}

func TestParse(t *testing.T) {
	for _, s := range []string{"allow", "review", "block"} {
		if _, err := ParseAction(s); err != nil {
			t.Errorf("ParseAction(%q): %v", s, err)
		}
	}
	for _, s := range []string{"low", "medium", "high", "critical"} {
		if _, err := ParseSeverity(s); err != nil {
			t.Errorf("ParseSeverity(%q): %v", s, err)
		}
	}
	for _, s := range []string{"enforce", "shadow"} {
		if _, err := ParseMode(s); err != nil {
			t.Errorf("ParseMode(%q): %v", s, err)
		}
	}
	if _, err := ParseAction("deny"); err == nil || !strings.Contains(err.Error(), "want allow, review or block") {
		t.Errorf("ParseAction(deny): %v", err)
	}
	if _, err := ParseSeverity("urgent"); err == nil || !strings.Contains(err.Error(), `severity "urgent"`) {
		t.Errorf("ParseSeverity(urgent): %v", err)
	}
	if _, err := ParseMode("dry-run"); err == nil {
		t.Error("ParseMode(dry-run) must fail")
	}
	if Low.Rank() >= Medium.Rank() || Medium.Rank() >= High.Rank() || High.Rank() >= Critical.Rank() || Severity("x").Rank() != -1 {
		t.Error("severity ranks out of order")
	}
}

func TestDecisionJSONKeepsEmptyLists(t *testing.T) {
	b, err := json.Marshal(Decision{RecordID: "r", Action: Allow})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"hits":[]`) || !strings.Contains(string(b), `"shadow_hits":[]`) {
		t.Fatalf("want empty lists, not null: %s", b)
	}
}
