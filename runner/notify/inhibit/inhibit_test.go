package inhibit_test

import (
	"strings"
	"testing"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/notify/inhibit"
)

func TestMutes(t *testing.T) {
	// A block on an entity mutes reviews of the same entity; a critical
	// alert mutes everything else of its rule.
	rules, err := inhibit.New([]config.InhibitRuleConfig{
		{SourceMatchers: []string{"action=block"}, TargetMatchers: []string{"action=review"}, Equal: []string{"entity"}},
		{SourceMatchers: []string{"severity=critical"}, TargetMatchers: []string{`severity=~"low|medium|high"`}, Equal: []string{"alertname"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	blockC1 := alert.Labels{"alertname": "card_testing", "action": "block", "entity": "c1", "severity": "high"}
	critical := alert.Labels{"alertname": "velocity", "action": "block", "entity": "c7", "severity": "critical"}
	for _, tc := range []struct {
		name   string
		firing []alert.Labels
		target alert.Labels
		want   bool
	}{
		{"review of a blocked entity", []alert.Labels{blockC1},
			alert.Labels{"alertname": "new_device", "action": "review", "entity": "c1"}, true},
		{"review of another entity", []alert.Labels{blockC1},
			alert.Labels{"alertname": "new_device", "action": "review", "entity": "c2"}, false},
		{"no source firing", nil,
			alert.Labels{"alertname": "new_device", "action": "review", "entity": "c1"}, false},
		{"a source does not mute itself", []alert.Labels{blockC1}, blockC1, false},
		{"absent equal labels are equal", []alert.Labels{{"action": "block"}},
			alert.Labels{"alertname": "x", "action": "review"}, true},
		{"equal label absent on one side only", []alert.Labels{{"action": "block"}},
			alert.Labels{"action": "review", "entity": "c1"}, false},
		{"critical mutes the rest of its rule", []alert.Labels{critical},
			alert.Labels{"alertname": "velocity", "action": "block", "entity": "c8", "severity": "high"}, true},
		{"but not another rule", []alert.Labels{critical},
			alert.Labels{"alertname": "card_testing", "action": "allow", "entity": "c8", "severity": "high"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := inhibit.NewIndex(rules, tc.firing)
			if got := x.Mutes(tc.target); got != tc.want {
				t.Errorf("Mutes(%v) with %v firing = %v, want %v", tc.target, tc.firing, got, tc.want)
			}
		})
	}

	// A rule whose source and target overlap: severity=~high|critical mutes
	// severity=~medium|high on the same entity. An alert matching both sides
	// is muted only by a source that is not a target too (Alertmanager's
	// two-sided rule), so never by itself.
	overlap, err := inhibit.New([]config.InhibitRuleConfig{{SourceMatchers: []string{`severity=~"high|critical"`},
		TargetMatchers: []string{`severity=~"medium|high"`}, Equal: []string{"entity"}}})
	if err != nil {
		t.Fatal(err)
	}
	high := alert.Labels{"severity": "high", "entity": "c1"}
	crit := alert.Labels{"severity": "critical", "entity": "c1"}
	if x := inhibit.NewIndex(overlap, []alert.Labels{high}); x.Mutes(high) {
		t.Error("a high alert muted itself")
	}
	if x := inhibit.NewIndex(overlap, []alert.Labels{high, crit}); !x.Mutes(high) {
		t.Error("a critical alert on the entity must mute the high one")
	}
}

func TestConfigErrors(t *testing.T) {
	_, err := inhibit.New([]config.InhibitRuleConfig{
		{SourceMatchers: []string{"action=block"}, TargetMatchers: []string{"action=review"}, Equal: []string{"entity"}},
		{TargetMatchers: []string{"action=~(review"}, Equal: []string{"entity-id"}},
	})
	for _, want := range []string{
		"config: notify.inhibit_rules[1].source_matchers: at least one matcher is required",
		"config: notify.inhibit_rules[1].target_matchers[0]: matcher `action=~(review`",
		`config: notify.inhibit_rules[1].equal[0]: label name "entity-id"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "inhibit_rules[0]") {
		t.Errorf("a good rule was blamed: %v", err)
	}
}
