package model

import (
	"encoding/json"
	"math"
	"testing"
	"testing/fstest"
	"time"
)

func TestScoreLogistic(t *testing.T) {
	set := mustLoad(t, fstest.MapFS{"fraud_lr.yaml": {Data: []byte(fraudLR)}}, LoadOptions{
		Schema:       shippedSchema(t),
		KnownFeature: knownFeatures("card_tx_count_1d", "card_seen_before"),
	})
	if got := set.Names(); len(got) != 1 || got[0] != "fraud_lr" {
		t.Fatalf("Names() = %v, want [fraud_lr]", got)
	}
	tests := []struct {
		name     string
		fields   map[string]any
		ts       time.Time
		features map[string]any
		want     float64
	}{{
		// amount: log1p(120.5) = 4.80, z = (4.80-3.2)/1.7; Saturday 05:30 UTC:
		// night 1, weekend 1, hour 5, weekday 5; count 3; seen 4 → 1; new destination 1.
		name:     "saturday night, all present",
		fields:   map[string]any{"amount": 120.5, "new_destination": true},
		ts:       mustTime(t, "2026-01-03T05:30:00Z"),
		features: map[string]any{"card_tx_count_1d": 3.0, "card_seen_before": int64(4)},
		want:     0.0800682967147459,
	}, {
		// Every field and feature absent: amount 0, count 1, seen 0; 14:00
		// at +08:00 is 06:00 UTC on Monday: night 1, weekday 0, hour 6.
		name: "everything absent, +08:00 is Monday 06:00 UTC",
		ts:   mustTime(t, "2026-01-05T14:00:00+08:00"),
		want: 0.0038317741080264632,
	}, {
		// log1p(1e9) = 20.7 clips to 10; count 50 clips to 20; Wednesday 23:59 UTC.
		name:     "large values clipped, Wednesday 23:59",
		fields:   map[string]any{"amount": 1e9, "new_destination": false},
		ts:       mustTime(t, "2026-01-07T23:59:59Z"),
		features: map[string]any{"card_tx_count_1d": 50, "card_seen_before": 0.0},
		want:     0.699166789753104,
	}, {
		// A string amount and a string boolean are not numbers (missing: 0),
		// a NaN count is missing (1), true counts as 1; no event time: hour
		// takes its missing 12, the other time inputs 0.
		name:     "wrong types and no event time",
		fields:   map[string]any{"amount": "12.5", "new_destination": "yes"},
		features: map[string]any{"card_tx_count_1d": math.NaN(), "card_seen_before": true},
		want:     0.0013851119567584607,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scores := set.Score(tt.fields, tt.ts, tt.features)
			got, ok := scores["fraud_lr"]
			if !ok || len(scores) != 1 {
				t.Fatalf("Score() = %v, want just fraud_lr", scores)
			}
			if !near(got, tt.want, 1e-12) {
				t.Errorf("fraud_lr = %.17g, want %.17g", got, tt.want)
			}
		})
	}
}

// TestInputValue pins each transform and source on its own, through the
// compiled input: what the model multiplies by its coefficient.
func TestInputValue(t *testing.T) {
	saturday := mustTime(t, "2026-01-03T06:59:59Z")
	sunday := mustTime(t, "2026-01-04T07:00:00Z")
	tests := []struct {
		name     string
		input    string // one inputs entry, YAML flow style
		fields   map[string]any
		ts       time.Time
		features map[string]any
		want     float64
	}{
		{"raw number", `{from: record.amount, missing: -1}`, map[string]any{"amount": 42.5}, time.Time{}, nil, 42.5},
		{"absent field takes missing", `{from: record.amount, missing: -1}`, nil, time.Time{}, nil, -1},
		{"null takes missing", `{from: record.amount, missing: -1}`, map[string]any{"amount": nil}, time.Time{}, nil, -1},
		{"string is not a number", `{from: record.amount, missing: 7}`, map[string]any{"amount": "3"}, time.Time{}, nil, 7},
		{"json.Number is a number", `{from: record.amount, missing: 7}`, map[string]any{"amount": json.Number("3.25")}, time.Time{}, nil, 3.25},
		{"infinite is missing", `{from: features.f, missing: 2}`, nil, time.Time{}, map[string]any{"f": math.Inf(1)}, 2},
		{"integer feature", `{from: features.f, missing: 2}`, nil, time.Time{}, map[string]any{"f": 9}, 9},
		{"boolean true", `{from: record.success, missing: 5}`, map[string]any{"success": true}, time.Time{}, nil, 1},
		{"boolean false", `{from: record.success, missing: 5}`, map[string]any{"success": false}, time.Time{}, nil, 0},
		{"log1p", `{from: features.f, missing: 0, transform: [log1p]}`, nil, time.Time{}, map[string]any{"f": math.E - 1}, 1},
		{"log1p of missing", `{from: features.f, missing: 0, transform: [log1p]}`, nil, time.Time{}, nil, 0},
		{"log1p below -1 falls back to missing", `{from: features.f, missing: 0, transform: [log1p]}`, nil, time.Time{}, map[string]any{"f": -3.0}, 0},
		{"clip low", `{from: features.f, missing: 0, transform: [{clip: [-1, 1]}]}`, nil, time.Time{}, map[string]any{"f": -5.0}, -1},
		{"clip high", `{from: features.f, missing: 0, transform: [{clip: [-1, 1]}]}`, nil, time.Time{}, map[string]any{"f": 5.0}, 1},
		{"clip inside", `{from: features.f, missing: 0, transform: [{clip: [-1, 1]}]}`, nil, time.Time{}, map[string]any{"f": 0.25}, 0.25},
		{"standardize", `{from: features.f, missing: 0, transform: [{standardize: {mean: 10, std: 4}}]}`, nil, time.Time{}, map[string]any{"f": 16.0}, 1.5},
		{"missing goes through the transforms", `{from: features.f, missing: 2, transform: [{standardize: {mean: 10, std: 4}}]}`, nil, time.Time{}, nil, -2},
		{"bool of a count", `{from: features.f, missing: 0, transform: [bool]}`, nil, time.Time{}, map[string]any{"f": 3.0}, 1},
		{"bool of zero", `{from: features.f, missing: 0, transform: [bool]}`, nil, time.Time{}, map[string]any{"f": 0.0}, 0},
		{"bool of a negative", `{from: features.f, missing: 0, transform: [bool]}`, nil, time.Time{}, map[string]any{"f": -0.5}, 1},
		{"transforms apply in order", `{from: features.f, missing: 0, transform: [{clip: [0, 3]}, log1p, bool]}`, nil, time.Time{}, map[string]any{"f": 99.0}, 1},
		{"hour", `{from: time.hour, missing: -1}`, nil, saturday, nil, 6},
		{"hour is UTC", `{from: time.hour, missing: -1}`, nil, mustTime(t, "2026-01-03T23:30:00-05:00"), nil, 4},
		{"weekday Saturday", `{from: time.weekday, missing: -1}`, nil, saturday, nil, 5},
		{"weekday Monday is 0", `{from: time.weekday, missing: -1}`, nil, mustTime(t, "2026-01-05T00:00:00Z"), nil, 0},
		{"weekday Sunday is 6", `{from: time.weekday, missing: -1}`, nil, sunday, nil, 6},
		{"weekend Sunday", `{from: time.weekend, missing: -1}`, nil, sunday, nil, 1},
		{"weekend Friday", `{from: time.weekend, missing: -1}`, nil, mustTime(t, "2026-01-02T12:00:00Z"), nil, 0},
		{"night at 06:59", `{from: time.night, missing: -1}`, nil, saturday, nil, 1},
		{"night at 00:00", `{from: time.night, missing: -1}`, nil, mustTime(t, "2026-01-03T00:00:00Z"), nil, 1},
		{"no night at 07:00", `{from: time.night, missing: -1}`, nil, sunday, nil, 0},
		{"no event time", `{from: time.night, missing: -1}`, nil, time.Time{}, nil, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "name: m\ntype: logistic_regression\nintercept: 0\ninputs:\n  - " +
				tt.input[:len(tt.input)-1] + ", coef: 1}\n"
			set := mustLoad(t, fstest.MapFS{"m.yaml": {Data: []byte(doc)}}, LoadOptions{})
			lr := set.models[0].scorer.(*logistic)
			e := env{fields: tt.fields, features: tt.features, hour: -1, weekday: -1}
			if !tt.ts.IsZero() {
				u := tt.ts.UTC()
				e.hour, e.weekday = u.Hour(), (int(u.Weekday())+6)%7
			}
			if got := lr.inputs[0].value(e); !near(got, tt.want, 1e-15) {
				t.Errorf("value = %v, want %v", got, tt.want)
			}
			// And through Score: with intercept 0 and coef 1 the score is sigmoid(x).
			if got := set.Score(tt.fields, tt.ts, tt.features)["m"]; !near(got, sigmoid(tt.want), 1e-15) {
				t.Errorf("Score = %v, want sigmoid(%v) = %v", got, tt.want, sigmoid(tt.want))
			}
		})
	}
}

func TestScoreNoModels(t *testing.T) {
	var nilSet *Set
	if got := nilSet.Score(map[string]any{"amount": 1.0}, time.Now(), nil); got != nil {
		t.Errorf("nil Set: Score = %v, want nil", got)
	}
	empty := mustLoad(t, fstest.MapFS{"README.md": {Data: []byte("# models")}}, LoadOptions{Dir: "models"})
	if empty.Len() != 0 || empty.Score(nil, time.Now(), nil) != nil {
		t.Errorf("a bundle without models/ must give an empty set, got %v", empty.Names())
	}
}

func TestLoadDirAndNames(t *testing.T) {
	fsys := fstest.MapFS{
		"models/fraud_lr.yaml": {Data: []byte(fraudLR)},
		"models/b.yml":         {Data: []byte("name: aaa_first\ntype: logistic_regression\nintercept: 1\ninputs: [{from: time.hour, missing: 0, coef: 0}]\n")},
		"models/notes.txt":     {Data: []byte("not a model")},
		"fraud_lr.yaml":        {Data: []byte("outside the directory: not read")},
	}
	set := mustLoad(t, fsys, LoadOptions{Dir: "models"})
	got := set.Names()
	if len(got) != 2 || got[0] != "aaa_first" || got[1] != "fraud_lr" {
		t.Fatalf("Names() = %v, want [aaa_first fraud_lr]", got)
	}
	scores := set.Score(nil, mustTime(t, "2026-01-03T05:30:00Z"), nil)
	if !near(scores["aaa_first"], sigmoid(1), 1e-15) {
		t.Errorf("aaa_first = %v, want sigmoid(1)", scores["aaa_first"])
	}
}
