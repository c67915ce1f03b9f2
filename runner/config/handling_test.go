package config

import (
	"strings"
	"testing"
	"time"
)

func TestHandlingConfig(t *testing.T) {
	file := writeFile(t, "handling.yaml", `
notify:
  receivers:
    - {name: console, type: log}
    - {name: oncall, type: log}
handling:
  interval: 5s
  escalation:
    - name: payments
      match: {severity: [high, critical], tags: [card]}
      levels:
        - {after: 15m, receivers: [oncall]}
        - {after: 1h, receivers: [oncall, console], repeat: 30m}
  auto_resolve:
    - {name: quiet-low, match: {severity: [low]}, quiet_for: 24h}
  auto_actions:
    endpoints:
      - {name: freeze_card, url: "https://cards.example/v1/freeze", secret_env: FREEZE_SECRET}
    routes:
      - {match: {rules: [card_testing_burst]}, action: freeze_card}
    guard: {limit: 5, interval: 2m, notify: [oncall]}
`)
	c, err := Load(Sources{Files: []string{file}, Environ: []string{"FREEZE_SECRET=x"}})
	if err != nil {
		t.Fatal(err)
	}
	h := c.Handling
	if h.Interval != 5*time.Second || len(h.Escalation) != 1 || h.Escalation[0].Levels[1].Repeat != 30*time.Minute ||
		h.AutoResolve[0].QuietFor != 24*time.Hour || h.AutoActions.Endpoints[0].SecretEnv != "FREEZE_SECRET" ||
		h.AutoActions.Guard.Limit != 5 || h.AutoActions.Guard.ResetAfter != time.Hour || h.AutoActions.MaxAttempts != 8 {
		t.Errorf("handling = %+v", h)
	}
	if d := Defaults().Handling; d.Interval != 10*time.Second || d.AutoActions.Guard.Limit != 10 || d.AutoActions.Guard.Interval != time.Minute {
		t.Errorf("default handling = %+v", d)
	}
}

func TestAlertMatch(t *testing.T) {
	m := AlertMatch{Severity: []string{"high", "critical"}, Tags: []string{"card"}}
	for _, tc := range []struct {
		severity, rule string
		tags           []string
		want           bool
	}{
		{"high", "r", []string{"velocity", "card"}, true},
		{"critical", "r", []string{"card"}, true},
		{"medium", "r", []string{"card"}, false},
		{"high", "r", []string{"giftcard"}, false},
		{"high", "r", nil, false},
	} {
		if got := m.Matches(tc.severity, tc.rule, tc.tags); got != tc.want {
			t.Errorf("Matches(%s, %s, %v) = %v", tc.severity, tc.rule, tc.tags, got)
		}
	}
	if !(AlertMatch{}).Matches("low", "any", nil) || (AlertMatch{Rules: []string{"a"}}).Matches("low", "b", nil) {
		t.Error("empty match must select all; rules must select by rule")
	}
}

func TestHandlingValidation(t *testing.T) {
	for _, tc := range []struct {
		name, set string
		want      string
	}{
		{"interval", `interval: 0s`, "handling.interval: must be a positive duration"},
		{"no name", `escalation: [{levels: [{after: 1m, receivers: [console]}]}]`, "handling.escalation[0].name: required"},
		{"twice", `escalation: [{name: a, levels: [{after: 1m, receivers: [console]}]}, {name: a, levels: [{after: 1m, receivers: [console]}]}]`,
			`handling.escalation[1].name: "a" is used twice`},
		{"no levels", `escalation: [{name: a}]`, "handling.escalation[0].levels: a policy needs at least one level"},
		{"bad severity", `escalation: [{name: a, match: {severity: [urgent]}, levels: [{after: 1m, receivers: [console]}]}]`,
			`handling.escalation[0].match.severity[0]: severity "urgent"`},
		{"levels out of order", `escalation: [{name: a, levels: [{after: 1h, receivers: [console]}, {after: 30m, receivers: [console]}]}]`,
			"handling.escalation[0].levels[1].after: 30m0s is not later than the level before (1h0m0s)"},
		{"unknown receiver", `escalation: [{name: a, levels: [{after: 1m, receivers: [boss]}]}]`,
			`handling.escalation[0].levels[0].receivers[0]: unknown receiver "boss" (notify.receivers has: console)`},
		{"no receivers", `escalation: [{name: a, levels: [{after: 1m}]}]`, "levels[0].receivers: name at least one receiver"},
		{"repeat too often", `escalation: [{name: a, levels: [{after: 1m, receivers: [console], repeat: 5s}]}]`, "repeat: 5s is too often"},
		{"quiet_for", `auto_resolve: [{name: q}]`, "handling.auto_resolve[0].quiet_for: must be a positive duration"},
		{"machine true positive", `auto_resolve: [{name: q, quiet_for: 1h, resolution: true_positive}]`,
			"handling.auto_resolve[0].resolution: only a person labels an alert a true positive"},
		{"bad endpoint name", `auto_actions: {endpoints: [{name: "Freeze Card", url: "https://x.example"}]}`,
			`handling.auto_actions.endpoints[0].name: "Freeze Card": want a name such as freeze_card`},
		{"bad url", `auto_actions: {endpoints: [{name: f, url: "x.example/freeze"}]}`, "endpoints[0].url: want an absolute http or https URL"},
		{"url with credentials", `auto_actions: {endpoints: [{name: f, url: "https://u:p@x.example"}]}`, "must not carry credentials"},
		{"two secrets", `auto_actions: {endpoints: [{name: f, url: "https://x.example", secret_env: A, secret_file: /b}]}`, "set secret_env or secret_file, not both"},
		{"route to nothing", `auto_actions: {routes: [{action: freeze}]}`, `routes[0].action: "freeze" is not an endpoint`},
		{"guard limit", `auto_actions: {guard: {limit: 0}}`, "handling.auto_actions.guard.limit: must be at least 1"},
		{"guard notify", `auto_actions: {guard: {notify: [pager]}}`, `handling.auto_actions.guard.notify[0]: unknown receiver "pager"`},
		{"backoff", `auto_actions: {backoff_base: 2m}`, "handling.auto_actions.backoff_max: 1m0s is below backoff_base 2m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, "h.yaml", "handling:\n  "+tc.set+"\n")
			_, err := Load(Sources{Files: []string{file}, Environ: []string{}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
