package alert_test

import (
	"testing"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/decision"
)

func TestLabels(t *testing.T) {
	for _, tc := range []struct {
		name   string
		alert  alert.Alert
		want   alert.Labels
		string string
	}{
		{"every label",
			alert.Alert{Rule: "card_testing", Severity: decision.High, Action: decision.Block, Owner: "payments-risk",
				Entity: decision.Entity{Field: "card_id", Value: "c1"}, Tags: []string{"velocity", "card", "card"}},
			alert.Labels{"alertname": "card_testing", "rule": "card_testing", "severity": "high", "action": "block",
				"owner": "payments-risk", "entity": "c1", "entity_field": "card_id", "tags": ",card,velocity,"},
			`{action="block", alertname="card_testing", entity="c1", entity_field="card_id", owner="payments-risk", ` +
				`rule="card_testing", severity="high", tags=",card,velocity,"}`},
		{"empty values are no labels",
			alert.Alert{Rule: "big_amount", Severity: decision.Medium, Action: decision.Review,
				Entity: decision.Entity{Field: "id", Value: "t-1"}},
			alert.Labels{"alertname": "big_amount", "rule": "big_amount", "severity": "medium", "action": "review",
				"entity": "t-1", "entity_field": "id"},
			`{action="review", alertname="big_amount", entity="t-1", entity_field="id", rule="big_amount", severity="medium"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.alert.Labels()
			if len(got) != len(tc.want) {
				t.Errorf("Labels() = %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("label %s = %q, want %q", k, got[k], v)
				}
			}
			if s := got.String(); s != tc.string {
				t.Errorf("String() = %s, want %s", s, tc.string)
			}
		})
	}
	if v := alert.TagsValue(nil); v != "" {
		t.Errorf("TagsValue(nil) = %q", v)
	}
	tags := []string{"b", "a"}
	alert.TagsValue(tags)
	if tags[0] != "b" {
		t.Error("TagsValue sorted its argument in place")
	}
}
