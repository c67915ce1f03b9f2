package feature

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseSpecs(t *testing.T) {
	s := mustSpecs(t, `version: 1
features:
  - name: card_small_payment_count_10m      # a comment
    entity: card_id
    aggregate: count
    window: 10m
    filter: {type: payment, amount: {lt: 10}}
  - name: customer_device_first_seen_age
    entity: [customer_id, device_id]
    aggregate: first_seen_age
    window: 90d
    resolution: 1m
  - name: terminal_fraud_count_28d_d7
    entity: terminal_id
    aggregate: count
    window: 28d
    delay: 7d
    at: event_ts
    lateness: 40d
    filter: {type: label, fraud: true}
  - name: terminal_tx_count_28d_d7
    entity: terminal_id
    aggregate: count
    window: 28d
    delay: 7d
  - name: terminal_risk_28d_d7
    aggregate: ratio
    numerator: terminal_fraud_count_28d_d7
    denominator: terminal_tx_count_28d_d7
    default: 0
`, shippedSchema(t))
	if got := strings.Join(s.Names(), ","); got != "card_small_payment_count_10m,customer_device_first_seen_age,terminal_fraud_count_28d_d7,terminal_tx_count_28d_d7,terminal_risk_28d_d7" {
		t.Fatalf("names %s", got)
	}
	f, _ := s.Feature("terminal_fraud_count_28d_d7")
	if f.Window != 28*day || f.Delay != 7*day || f.At != "event_ts" || *f.Lateness != 40*day || f.Resolution != time.Second || f.Line != 13 {
		t.Errorf("feature %+v", f)
	}
	if want := (Filter{{"type", OpEq, "label"}, {"fraud", OpEq, true}}); f.Filter.canonical() != want.canonical() {
		t.Errorf("filter %v", f.Filter)
	}
	fs, _ := s.Feature("customer_device_first_seen_age")
	if strings.Join(fs.Entity, ",") != "customer_id,device_id" || fs.Resolution != time.Minute {
		t.Errorf("feature %+v", fs)
	}
	r, _ := s.Feature("terminal_risk_28d_d7")
	if r.Default != 0.0 || r.Numerator != "terminal_fraud_count_28d_d7" {
		t.Errorf("ratio %+v", r)
	}
	// The hash follows meaning, not layout.
	reordered := mustSpecs(t, `version: 1
features:
  - {name: card_small_payment_count_10m, aggregate: count, window: 10m, entity: card_id, filter: {amount: {lt: 10.0}, type: payment}}
`, nil)
	first := mustSpecs(t, `version: 1
features:
  - name: card_small_payment_count_10m
    entity: card_id
    aggregate: count
    window: 600s
    filter: {type: payment, amount: {lt: 10}}
`, nil)
	if reordered.Hash() != first.Hash() || reordered.Hash() == s.Hash() {
		t.Errorf("hashes %s %s %s", reordered.Hash(), first.Hash(), s.Hash())
	}
}

// Every problem is reported with file and line; the table gives the line
// and a part of the message.
func TestParseSpecsErrors(t *testing.T) {
	const head = "version: 1\nfeatures:\n"
	tests := []struct {
		name, yaml string
		line       int
		msg        string
	}{
		{"empty file", "", 0, "the file is empty"},
		{"syntax", "version: 1\nfeatures: [\n", 2, "did not find expected"},
		{"version", "version: 2\nfeatures: []\n", 1, `version: "2" is not supported`},
		{"unknown top key", "version: 1\nfeature: []\n", 2, `unknown key "feature"`},
		{"features not a list", "version: 1\nfeatures: {a: 1}\n", 2, "want a list of features"},
		{"unknown feature key", head + "  - {name: a_count, entity: card_id, aggregate: count, window: 1m, windw: 2m}\n", 3, `unknown key "windw"`},
		{"duplicate key", head + "  - name: a_count\n    entity: card_id\n    aggregate: count\n    window: 1m\n    window: 2m\n", 7, `key "window" is already given at line 6`},
		{"duplicate name", head + "  - {name: a_count, entity: card_id, aggregate: count, window: 1m}\n  - {name: a_count, entity: card_id, aggregate: count, window: 2m}\n", 4, `the name is already used at line 3`},
		{"name not snake_case", head + "  - {name: ACount, entity: card_id, aggregate: count, window: 1m}\n", 3, "snake_case"},
		{"missing name", head + "  - {entity: card_id, aggregate: count, window: 1m}\n", 3, "name is missing"},
		{"bad aggregate", head + "  - {name: a, entity: card_id, aggregate: median, window: 1m}\n", 3, `aggregate "median" is not one of`},
		{"missing field", head + "  - name: a\n    entity: card_id\n    aggregate: avg\n    window: 1m\n", 3, "aggregate avg needs field"},
		{"extra field", head + "  - name: a\n    entity: card_id\n    aggregate: count\n    field: amount\n    window: 1m\n", 6, "field does not apply to aggregate count"},
		{"unknown field", head + "  - {name: a, entity: card_id, aggregate: sum, field: amout, window: 1m}\n", 3, `"amout" is not a field of the schema`},
		{"alias as field", head + "  - {name: a, entity: card, aggregate: count, window: 1m}\n", 3, `it is an alias of "card_id"`},
		{"field of wrong type", head + "  - {name: a, entity: card_id, aggregate: sum, field: email, window: 1m}\n", 3, `field "email" has type string, want number or integer or boolean`},
		{"entity missing", head + "  - {name: a, aggregate: count, window: 1m}\n", 3, "entity is missing"},
		{"entity not in schema", head + "  - name: a\n    entity: [customer_id, devce_id]\n    aggregate: count\n    window: 1m\n", 4, `"devce_id" is not a field`},
		{"entity twice", head + "  - {name: a, entity: [card_id, card_id], aggregate: count, window: 1m}\n", 3, "listed twice"},
		{"window missing", head + "  - {name: a, entity: card_id, aggregate: count}\n", 3, "window is missing"},
		{"window too short", head + "  - {name: a, entity: card_id, aggregate: count, window: 500ms}\n", 3, "window 500ms is out of range (1s to 90d)"},
		{"window too long", head + "  - name: a\n    entity: card_id\n    aggregate: count\n    window: 91d\n", 6, "out of range"},
		{"window not a duration", head + "  - {name: a, entity: card_id, aggregate: count, window: 7days}\n", 3, `"7days" is not a duration`},
		{"delay with last", head + "  - name: a\n    entity: card_id\n    aggregate: last\n    field: ip\n    window: 1h\n    delay: 1m\n", 8, "delay does not apply to aggregate last"},
		{"at not a timestamp", head + "  - {name: a, entity: card_id, aggregate: count, window: 1m, at: amount}\n", 3, `field "amount" has type number, want timestamp`},
		{"resolution wider than window", head + "  - {name: a, entity: card_id, aggregate: count, window: 1m, resolution: 2m}\n", 3, "resolution 2m0s is wider than the window 1m0s"},
		{"filter key unknown", head + "  - name: a\n    entity: card_id\n    aggregate: count\n    window: 1m\n    filter:\n      tpye: payment\n", 8, `"tpye" is not a field`},
		{"filter operator unknown", head + "  - {name: a, entity: card_id, aggregate: count, window: 1m, filter: {amount: {less: 3}}}\n", 3, `unknown operator "less"`},
		{"filter lt on a string", head + "  - {name: a, entity: card_id, aggregate: count, window: 1m, filter: {type: {lt: 3}}}\n", 3, "lt compares numbers, but the field has type string"},
		{"filter type mismatch", head + "  - {name: a, entity: card_id, aggregate: count, window: 1m, filter: {fraud: yes}}\n", 3, `"yes" cannot equal a value of field type boolean`},
		{"filter empty in", head + "  - {name: a, entity: card_id, aggregate: count, window: 1m, filter: {type: {in: []}}}\n", 3, "want a non-empty list"},
		{"filter exists not bool", head + "  - {name: a, entity: card_id, aggregate: count, window: 1m, filter: {ip: {exists: 1}}}\n", 3, "exists: want true or false"},
		{"bad default", head + "  - {name: a, entity: card_id, aggregate: avg, field: amount, window: 1m, default: high}\n", 3, "default: want a number"},
		{"ratio with window", head + "  - {name: a, entity: card_id, aggregate: count, window: 1m}\n  - {name: r, aggregate: ratio, numerator: a, denominator: a, window: 1m}\n", 4, "window does not apply to a ratio"},
		{"ratio unknown operand", head + "  - {name: r, aggregate: ratio, numerator: a, denominator: b}\n", 3, `ratio operand "a" is not a feature`},
		{"ratio of itself", head + "  - {name: r, aggregate: ratio, numerator: r, denominator: r}\n", 3, "cannot refer to itself"},
		{"ratio cycle", head + "  - {name: a, entity: card_id, aggregate: count, window: 1m}\n  - {name: r, aggregate: ratio, numerator: s, denominator: a}\n  - {name: s, aggregate: ratio, numerator: r, denominator: a}\n", 4, "cycle: r → s → r"},
		{"ratio numerator missing", head + "  - {name: r, aggregate: ratio, denominator: b}\n", 3, "a ratio needs numerator"},
		{"numerator on count", head + "  - {name: a, entity: card_id, aggregate: count, window: 1m, numerator: b}\n", 3, "numerator applies to aggregate ratio only"},
	}
	schema := shippedSchema(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSpecs([]byte(tt.yaml), "policies/features.yaml", schema)
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("err = %v, want Errors", err)
			}
			for _, e := range es {
				if e.File == "policies/features.yaml" && e.Line == tt.line && strings.Contains(e.Msg, tt.msg) {
					return
				}
			}
			t.Fatalf("got %v\nwant policies/features.yaml:%d: ...%s...", err, tt.line, tt.msg)
		})
	}
}

// Several problems come back at once, in line order.
func TestParseSpecsAllErrors(t *testing.T) {
	_, err := ParseSpecs([]byte(`version: 1
features:
  - {name: a, entity: card_id, aggregate: avg, window: 1m}
  - {name: b, entity: card_id, aggregate: count, window: 100d}
`), "f.yaml", nil)
	want := "2 problems:\nf.yaml:3: feature \"a\": aggregate avg needs field (the record field to aggregate)\n" +
		"f.yaml:4: feature \"b\": window 100d is out of range (1s to 90d)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"10m", 10 * time.Minute, true}, {"7d", 7 * day, true}, {"1d12h", 36 * time.Hour, true},
		{"90d", 90 * day, true}, {"1.5h", 90 * time.Minute, true}, {"d", 0, false}, {"-1m", 0, false}, {"7days", 0, false},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v", tt.in, got, err)
		}
	}
}

// The bundle's own features.yaml parses against the shipped schema.
func TestShippedFeatures(t *testing.T) {
	data, err := os.ReadFile("../../policies/features.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := mustSpecs(t, string(data), shippedSchema(t))
	if _, err := NewEngine(s, nil, Options{}); err != nil || len(s.Features) == 0 {
		t.Fatalf("%d features: %v", len(s.Features), err)
	}
}
