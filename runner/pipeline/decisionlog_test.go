package pipeline_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/pipeline"
)

// collected is a DecisionWriter that keeps what it is given.
type collected []string

func (c *collected) WriteDecision(d *decision.Decision) error {
	*c = append(*c, d.RecordID)
	return nil
}

func TestLogLines(t *testing.T) {
	decisions := []decision.Decision{
		{RecordID: "clean", RecordType: "payment", Action: decision.Allow},
		{RecordID: "hits", RecordType: "payment", Action: decision.Block, Score: 100,
			Hits:       []decision.Hit{{Rule: "blocked_card"}, {Rule: "large_payment"}},
			ShadowHits: []decision.Hit{{Rule: "high_risk_bin"}}},
		{RecordID: "shadow", RecordType: "withdrawal", Action: decision.Allow, ShadowHits: []decision.Hit{{Rule: "structuring"}}},
	}
	tests := []struct {
		name     string
		hitsOnly bool
		level    slog.Level
		logged   []string
	}{
		{"all", false, slog.LevelInfo, []string{"clean", "hits", "shadow"}},
		{"hits only", true, slog.LevelInfo, []string{"hits", "shadow"}},
		{"info disabled", false, slog.LevelWarn, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			var next collected
			w := pipeline.LogLines{
				Log:      slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: tt.level})),
				HitsOnly: tt.hitsOnly,
				Next:     &next,
			}
			for i := range decisions {
				if err := w.WriteDecision(&decisions[i]); err != nil {
					t.Fatal(err)
				}
			}
			if !slices.Equal(next, []string{"clean", "hits", "shadow"}) {
				t.Errorf("Next got %v, want every decision", next)
			}
			type line struct {
				Msg    string   `json:"msg"`
				Record string   `json:"record"`
				Type   string   `json:"type"`
				Action string   `json:"action"`
				Score  int      `json:"score"`
				Rules  []string `json:"rules"`
				Shadow []string `json:"shadow"`
			}
			var logged []string
			for _, raw := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				if raw == "" {
					continue
				}
				var l line
				if err := json.Unmarshal([]byte(raw), &l); err != nil {
					t.Fatal(err)
				}
				logged = append(logged, l.Record)
				if l.Record == "hits" && (l.Msg != "decision" || l.Action != "block" || l.Score != 100 || l.Type != "payment" ||
					!slices.Equal(l.Rules, []string{"blocked_card", "large_payment"}) || !slices.Equal(l.Shadow, []string{"high_risk_bin"})) {
					t.Errorf("line for hits = %s", raw)
				}
				if l.Record == "clean" && (l.Rules == nil || len(l.Rules) != 0 || l.Shadow != nil) {
					t.Errorf("line for clean = %s, want rules [] and no shadow", raw)
				}
			}
			if !slices.Equal(logged, tt.logged) {
				t.Errorf("logged %v, want %v", logged, tt.logged)
			}
		})
	}
	// Without Next, and without a logger, it is a sink.
	if err := (pipeline.LogLines{}).WriteDecision(&decisions[1]); err != nil {
		t.Fatal(err)
	}
}
