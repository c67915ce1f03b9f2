package pipeline

import (
	"context"
	"log/slog"

	"github.com/vigil-risk/vigil/runner/decision"
)

// LogLines writes a log line per decision (all of them, or only those with
// hits) and passes each on to Next. It is for watching a runner live, not a
// substitute for the decision log.
type LogLines struct {
	Log      *slog.Logger
	HitsOnly bool
	Next     DecisionWriter // may be nil
}

func (l LogLines) WriteDecision(d *decision.Decision) error {
	// Enabled first: the attributes are built only for a line that is written.
	if (!l.HitsOnly || len(d.Hits)+len(d.ShadowHits) > 0) && l.Log != nil && l.Log.Enabled(context.Background(), slog.LevelInfo) {
		rules := make([]string, 0, len(d.Hits))
		for _, h := range d.Hits {
			rules = append(rules, h.Rule)
		}
		attrs := []any{"record", d.RecordID, "type", d.RecordType, "action", d.Action, "score", d.Score, "rules", rules}
		if len(d.ShadowHits) > 0 {
			shadow := make([]string, 0, len(d.ShadowHits))
			for _, h := range d.ShadowHits {
				shadow = append(shadow, h.Rule)
			}
			attrs = append(attrs, "shadow", shadow)
		}
		l.Log.Info("decision", attrs...)
	}
	if l.Next != nil {
		return l.Next.WriteDecision(d)
	}
	return nil
}
