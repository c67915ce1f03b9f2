package match_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/notify/match"
)

func TestParseAndMatch(t *testing.T) {
	labels := alert.Labels{"severity": "high", "rule": "card_testing", "tags": ",card,velocity,", "env": "prod"}
	for _, tc := range []struct {
		in     string
		string string // how it renders
		want   bool   // whether it matches labels
	}{
		{`severity="high"`, `severity="high"`, true},
		{`severity=high`, `severity="high"`, true},
		{` severity = high `, `severity="high"`, true},
		{`severity!="high"`, `severity!="high"`, false},
		{`severity=~"high|critical"`, `severity=~"high|critical"`, true},
		{`severity!~high|critical`, `severity!~"high|critical"`, false},
		// Regular expressions are anchored at both ends, as in Alertmanager.
		{`rule=~"card"`, `rule=~"card"`, false},
		{`rule=~"card.*"`, `rule=~"card.*"`, true},
		{`rule=~"testing"`, `rule=~"testing"`, false},
		// A tag is matched within its commas.
		{`tags=~".*,card,.*"`, `tags=~".*,card,.*"`, true},
		{`tags=~".*,car,.*"`, `tags=~".*,car,.*"`, false},
		// An absent label has the empty value.
		{`owner=""`, `owner=""`, true},
		{`owner!=""`, `owner!=""`, false},
		{`env!=""`, `env!=""`, true},
		{`owner=~"payments.*"`, `owner=~"payments.*"`, false},
		{`owner!~"payments.*"`, `owner!~"payments.*"`, true},
		// Quoted values keep what bare ones would trim, and take Go escapes.
		{`reason="a, \"b\""`, `reason="a, \"b\""`, false},
		{`env="prod"`, `env="prod"`, true},
	} {
		m, err := match.Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%s): %v", tc.in, err)
			continue
		}
		if got := m.String(); got != tc.string {
			t.Errorf("Parse(%s).String() = %s, want %s", tc.in, got, tc.string)
		}
		if got := m.Matches(labels[m.Name]); got != tc.want {
			t.Errorf("%s matches %v = %v, want %v", tc.in, labels, got, tc.want)
		}
		again, err := match.Parse(m.String())
		if err != nil || again.String() != m.String() {
			t.Errorf("%s does not round-trip: %v, %v", m, again, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`severity`, `want name, an operator`},
		{`=high`, `label name ""`},
		{`9lives=x`, `label name "9lives"`},
		{`sev-erity=x`, `label name "sev-erity"`},
		{`severity=~"(high"`, `regular expression "(high": missing closing ) at "(high"`},
		{`severity="high`, `not a properly quoted string`},
		{`severity!high`, `want an operator`},
	} {
		_, err := match.Parse(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "`"+tc.in+"`") {
			t.Errorf("Parse(%s) error = %v, want it to name the matcher and say %q", tc.in, err, tc.want)
		}
	}
	if _, err := match.ParseAll([]string{"a=b", "c=~("}); err == nil || !strings.HasPrefix(err.Error(), "[1]: ") {
		t.Errorf("ParseAll error = %v, want it to name position 1", err)
	}
}

func TestMatchersJSON(t *testing.T) {
	ms, err := match.ParseAll([]string{`severity=~"high|critical"`, "entity=c1"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(ms)
	if err != nil || string(b) != `["severity=~\"high|critical\"","entity=\"c1\""]` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var back match.Matchers
	if err := json.Unmarshal(b, &back); err != nil || back.String() != ms.String() {
		t.Errorf("Unmarshal = %v, %v", back, err)
	}
	if !back.Matches(alert.Labels{"severity": "critical", "entity": "c1"}) || back.Matches(alert.Labels{"severity": "critical"}) {
		t.Error("all matchers must match")
	}
	if err := json.Unmarshal([]byte(`["a=~("]`), &back); err == nil || !strings.Contains(err.Error(), "matchers[0]") {
		t.Errorf("bad matcher in JSON: %v", err)
	}
	if !(match.Matchers{}).Matches(alert.Labels{}) {
		t.Error("no matchers match everything")
	}
}
