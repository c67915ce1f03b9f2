package pipeline

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/decision"
)

// appendDecision must write exactly what json.Marshal writes.
func TestAppendDecisionMatchesEncodingJSON(t *testing.T) {
	ts := time.Date(2026, 3, 1, 2, 3, 4, 500600700, time.UTC)
	hit := decision.Hit{Rule: "r", Title: "T", Severity: decision.High, Action: decision.Block, Reason: "why"}
	cases := []struct {
		name string
		d    decision.Decision
	}{
		{"empty", decision.Decision{}},
		{"clean", decision.Decision{RecordID: "t-1", RecordType: "payment", Time: ts, Action: decision.Allow, PolicyRevision: "abc", RunnerVersion: "v1", Source: "http", EvalUS: 12}},
		{"hits", decision.Decision{RecordID: "t-2", Time: ts, Action: decision.Block, Score: 70,
			Hits: []decision.Hit{hit, {Rule: "s", Severity: decision.Low, Action: decision.Review, Reason: "<b>&amp;</b>",
				Entity:  &decision.Entity{Field: "card_id", Value: "c\u2028\u2029"},
				Details: map[string]any{"z": 1.0, "a": []any{"x", nil, true, 1e21, 1e-7, -0.0, 123456789.125}, "m": map[string]any{"k": "v"}, "n": nil}}},
			ShadowHits: []decision.Hit{{Rule: "sh", Reason: "\x00\x1f\t\n\r\b\f\"\\\x7f"}}}},
		{"invalid utf-8", decision.Decision{RecordID: "bad\xff\xfeend", Time: ts}},
		{"features", decision.Decision{RecordID: "f", Time: ts, Features: map[string]any{"b": 2.5, "a": 1.0}, Scores: map[string]float64{"lr": 0.25, "a": 1e-9}}},
		{"offset", decision.Decision{RecordID: "o", Time: ts.In(time.FixedZone("x", 3600))}},
		{"not finite", decision.Decision{RecordID: "nf", Time: ts, Scores: map[string]float64{"x": math.Inf(1)}}},
		{"other detail type", decision.Decision{RecordID: "d", Time: ts, Hits: []decision.Hit{{Rule: "r", Details: map[string]any{"n": json.Number("12.50"), "i": 3, "s": []string{"a"}}}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkAppendDecision(t, &c.d)
		})
	}
}

func TestAppendDecisionRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		d := randomDecision(r)
		checkAppendDecision(t, &d)
	}
}

func FuzzAppendDecision(f *testing.F) {
	f.Add("t-1", "why <b>", "c\u2028", 12.5, int64(3))
	f.Add("\xff", "\x00", "", 1e21, int64(-1))
	f.Fuzz(func(t *testing.T, id, reason, value string, x float64, us int64) {
		d := decision.Decision{RecordID: id, Time: time.Unix(us, 0).UTC(), EvalUS: us,
			Hits: []decision.Hit{{Rule: id, Reason: reason, Entity: &decision.Entity{Field: "f", Value: value}, Details: map[string]any{reason: x, value: []any{x, reason}}}}}
		checkAppendDecision(t, &d)
	})
}

func checkAppendDecision(t *testing.T, d *decision.Decision) {
	t.Helper()
	want, wantErr := json.Marshal(d)
	got, err := appendDecision(nil, d)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("error %v, json.Marshal's %v", err, wantErr)
	}
	if string(got) != string(want) {
		t.Fatalf("appendDecision wrote\n%s\njson.Marshal writes\n%s", got, want)
	}
}

func randomDecision(r *rand.Rand) decision.Decision {
	str := func() string {
		alphabet := []string{"a", "Z", "<", ">", "&", "\"", "\\", "\n", "\x01", "é", "\u2028", "\xff", " ", "😀", "\x7f"}
		var b strings.Builder
		for range r.IntN(8) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	num := func() float64 {
		return []float64{0, -0.0, 1, 0.1, 1e20, 1e21, 1e-6, 9.99e-7, -123.456, math.MaxFloat64, math.SmallestNonzeroFloat64, r.NormFloat64() * 1e6}[r.IntN(12)]
	}
	var val func(depth int) any
	val = func(depth int) any {
		switch r.IntN(7) {
		case 0:
			return nil
		case 1:
			return r.IntN(2) == 0
		case 2, 3:
			return num()
		case 4:
			return str()
		case 5:
			if depth < 2 {
				return []any{val(depth + 1), val(depth + 1)}
			}
		case 6:
			if depth < 2 {
				return map[string]any{str(): val(depth + 1), str(): val(depth + 1)}
			}
		}
		return str()
	}
	hits := func() []decision.Hit {
		var hs []decision.Hit
		for range r.IntN(3) {
			h := decision.Hit{Rule: str(), Title: str(), Severity: decision.Medium, Action: decision.Review, Reason: str()}
			if r.IntN(2) == 0 {
				h.Entity = &decision.Entity{Field: str(), Value: str()}
			}
			if r.IntN(2) == 0 {
				h.Details = map[string]any{str(): val(0), str(): val(0)}
			}
			hs = append(hs, h)
		}
		return hs
	}
	d := decision.Decision{RecordID: str(), RecordType: str(), Time: time.Unix(r.Int64N(1<<33), r.Int64N(1e9)).UTC(),
		Action: decision.Allow, Score: r.IntN(101), Hits: hits(), ShadowHits: hits(), PolicyRevision: str(), RunnerVersion: str(), Source: str(), EvalUS: r.Int64N(1e6)}
	if r.IntN(4) == 0 {
		d.Features = map[string]any{str(): val(0)}
		d.Scores = map[string]float64{str(): num()}
	}
	return d
}
