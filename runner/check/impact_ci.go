package check

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/sethvargo/go-githubactions"
)

// Write writes the impact report in a format; markdown is also a format
// here (a pull request comment). GitHub output goes through a.
func (r *ImpactReport) Write(w io.Writer, f Format, a *githubactions.Action) error {
	switch f {
	case FormatJSON:
		return writeJSON(w, r)
	case FormatJUnit:
		return r.WriteJUnit(w)
	case FormatMarkdown:
		r.WriteMarkdown(w)
		return nil
	case FormatGitHub:
		r.WriteText(w)
		return r.WriteGitHub(a)
	}
	r.WriteText(w)
	return nil
}

// FormatMarkdown is the backtest's report as Markdown.
const FormatMarkdown Format = "markdown"

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// MarshalJSON writes an infinite alert increase (from none) as null.
func (r *ImpactReport) MarshalJSON() ([]byte, error) {
	type plain ImpactReport
	before, after := r.AlertsPerDay()
	var inc *float64
	if v := r.AlertIncrease(); !math.IsInf(v, 0) {
		inc = &v
	}
	return json.Marshal(struct {
		OK            bool     `json:"ok"`
		AlertsBefore  float64  `json:"alerts_per_day_before"`
		AlertsAfter   float64  `json:"alerts_per_day_after"`
		AlertIncrease *float64 `json:"alert_increase"`
		*plain
	}{r.OK(), before, after, inc, (*plain)(r)})
}

// WriteJUnit writes the gates as JUnit test cases.
func (r *ImpactReport) WriteJUnit(w io.Writer) error {
	s := &junitSuites{Name: "vigil backtest --base " + r.BaseRef}
	cases := make([]Case, 0, len(r.Gates))
	for _, g := range r.Gates {
		c := Case{Suite: "backtest gates", Name: g.Name, File: g.File, Line: g.Line}
		if !g.OK {
			c.Failure = g.Msg
		}
		cases = append(cases, c)
	}
	s.add("backtest gates", cases)
	return s.write(w)
}

// WriteGitHub turns the impact report into GitHub Actions output: an error
// annotation for every failed gate (on the rule's file and line when it is
// about a rule), the Markdown report as the job summary, and step outputs
// (ok, alerts_per_day_before, alerts_per_day_after, alert_increase_pct,
// decisions_changed, rules_changed, rules_new, rules_removed).
func (r *ImpactReport) WriteGitHub(a *githubactions.Action) error {
	for _, g := range r.Gates {
		if !g.OK {
			annotate(a, Problem{File: g.File, Line: g.Line, Msg: g.Msg}, "vigil backtest: "+g.Name)
		}
	}
	return fileCommands(a, func() {
		var md strings.Builder
		r.WriteMarkdown(&md)
		a.AddStepSummary(md.String())
		before, after := r.AlertsPerDay()
		counts := map[string]int{}
		for _, d := range r.Rules {
			counts[d.Status]++
		}
		inc := "inf"
		if v := r.AlertIncrease(); !math.IsInf(v, 0) {
			inc = strconv.FormatFloat(100*v, 'f', 1, 64)
		}
		for _, kv := range [][2]string{
			{"ok", strconv.FormatBool(r.OK())},
			{"alerts_per_day_before", strconv.FormatFloat(before, 'f', 2, 64)},
			{"alerts_per_day_after", strconv.FormatFloat(after, 'f', 2, 64)},
			{"alert_increase_pct", inc},
			{"decisions_changed", strconv.Itoa(r.Decisions.Changed)},
			{"rules_changed", strconv.Itoa(counts["changed"])},
			{"rules_new", strconv.Itoa(counts["new"])},
			{"rules_removed", strconv.Itoa(counts["removed"])},
		} {
			a.SetOutput(kv[0], kv[1])
		}
	})
}

// Write writes a plain backtest's report in a format.
func (r *BacktestReport) Write(w io.Writer, f Format, a *githubactions.Action) error {
	switch f {
	case FormatJSON:
		return writeJSON(w, r)
	case FormatMarkdown:
		r.WriteMarkdown(w)
		return nil
	case FormatJUnit:
		// without a base there is nothing to gate: one passing case per rule
		s := &junitSuites{Name: "vigil backtest " + r.Data}
		cases := make([]Case, 0, len(r.Rules))
		for _, rs := range r.Rules {
			cases = append(cases, Case{Suite: "backtest rules", Name: fmt.Sprintf("%s: %d hits, precision %s, recall %s", rs.Rule, rs.Hits, pct(rs.Precision), pct(rs.Recall)), File: rs.File, Line: rs.Line})
		}
		s.add("backtest rules", cases)
		return s.write(w)
	case FormatGitHub:
		r.WriteText(w)
		return fileCommands(a, func() {
			var md strings.Builder
			r.WriteMarkdown(&md)
			a.AddStepSummary(md.String())
			a.SetOutput("records", strconv.Itoa(r.Records))
			a.SetOutput("frauds", strconv.Itoa(r.Frauds))
			a.SetOutput("alerts", strconv.Itoa(r.Alerts))
			a.SetOutput("alerts_per_day", strconv.FormatFloat(perDay(r.Alerts, r.Days), 'f', 2, 64))
		})
	}
	r.WriteText(w)
	return nil
}
