package check

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// precision is "–" for a rule without hits, where it means nothing.
func precision(s *RuleStats) string {
	if s == nil {
		return "–"
	}
	if s.Hits == 0 {
		return "–"
	}
	return pct(s.Precision)
}

func stat(s *RuleStats, f func(*RuleStats) string) string {
	if s == nil {
		return "–"
	}
	return f(s)
}

func beforeAfter(b, a string) string {
	if b == a {
		return a
	}
	return b + " → " + a
}

func hitsDelta(d RuleDelta) string {
	var before, after int
	if d.Before != nil {
		before = d.Before.Hits
	}
	if d.After != nil {
		after = d.After.Hits
	}
	s := beforeAfter(stat(d.Before, func(s *RuleStats) string { return fmt.Sprint(s.Hits) }),
		stat(d.After, func(s *RuleStats) string { return fmt.Sprint(s.Hits) }))
	if before != after && d.Before != nil && d.After != nil {
		s += fmt.Sprintf(" (%+d)", after-before)
	}
	return s
}

func (d RuleDelta) mode() string {
	if d.After != nil {
		if d.Before != nil && d.Before.Mode != d.After.Mode {
			return d.Before.Mode + " → " + d.After.Mode
		}
		return d.After.Mode
	}
	return d.Before.Mode
}

func (d RuleDelta) cells() (hits, prec, recall, perDay string) {
	return hitsDelta(d),
		beforeAfter(precision(d.Before), precision(d.After)),
		beforeAfter(stat(d.Before, func(s *RuleStats) string { return pct(s.Recall) }), stat(d.After, func(s *RuleStats) string { return pct(s.Recall) })),
		beforeAfter(stat(d.Before, func(s *RuleStats) string { return fmt.Sprintf("%.1f", s.AlertsPerDay) }),
			stat(d.After, func(s *RuleStats) string { return fmt.Sprintf("%.1f", s.AlertsPerDay) }))
}

// shown says whether a rule earns a row: anything changed, or it fires.
func (d RuleDelta) shown() bool {
	return d.Status != "unchanged" || d.After.Hits > 0
}

func (r *ImpactReport) quiet() []string {
	var out []string
	for _, d := range r.Rules {
		if !d.shown() {
			out = append(out, d.Rule)
		}
	}
	return out
}

func mix(b *BacktestReport) string {
	return fmt.Sprintf("%d / %d / %d", b.Actions["allow"], b.Actions["review"], b.Actions["block"])
}

func (r *ImpactReport) changedShare() string {
	if r.Decisions.Compared == 0 {
		return "0"
	}
	return fmt.Sprintf("%d of %d (%.2f%%)", r.Decisions.Changed, r.Decisions.Compared, 100*ratio(r.Decisions.Changed, r.Decisions.Compared))
}

func (v DecisionView) String() string {
	s := v.Action
	if len(v.Hits) > 0 {
		s += " [" + strings.Join(v.Hits, ", ") + "]"
	}
	if len(v.ShadowHits) > 0 {
		s += " shadow [" + strings.Join(v.ShadowHits, ", ") + "]"
	}
	return s
}

func (c ChangedDecision) label() string {
	switch {
	case c.Fraud == nil:
		return "unlabelled"
	case *c.Fraud:
		return "fraud"
	}
	return "legitimate"
}

func (t Transition) name() string {
	if t.From == t.To {
		return t.From + " → " + t.To + " (other rules)"
	}
	return t.From + " → " + t.To
}

// WriteText prints the impact report for a terminal.
func (r *ImpactReport) WriteText(w io.Writer) {
	before, after := r.AlertsPerDay()
	fmt.Fprintf(w, "impact on %s: base %s (revision %s) → head (revision %s)\n", r.Data, r.BaseRef, r.Base.PolicyRevision, r.Head.PolicyRevision)
	fmt.Fprintf(w, "period %s (%d days): %d records, %d frauds\n", r.Head.period(), r.Head.Days, r.Head.Records, r.Head.Frauds)
	fmt.Fprintf(w, "alerts per day %.1f → %.1f (%s); allow/review/block %s → %s; decisions changed: %s\n\n",
		before, after, signedPct(r.AlertIncrease()), mix(r.Base), mix(r.Head), r.changedShare())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "rule\tmode\tstatus\thits\tprecision\trecall\talerts/day")
	for _, d := range r.Rules {
		if !d.shown() {
			continue
		}
		hits, prec, recall, perDay := d.cells()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Rule, d.mode(), d.Status, hits, prec, recall, perDay)
	}
	tw.Flush()
	if q := r.quiet(); len(q) > 0 {
		fmt.Fprintf(w, "unchanged, no hits: %s\n", strings.Join(q, ", "))
	}
	if len(r.Decisions.Transitions) > 0 {
		fmt.Fprintln(w, "\ndecisions that changed:")
		for _, t := range r.Decisions.Transitions {
			fmt.Fprintf(w, "  %s: %d records (%d fraud)\n", t.name(), t.Count, t.Frauds)
			for _, e := range t.Examples {
				fmt.Fprintf(w, "    %s %s (%s): %s → %s\n", e.ID, e.Time.UTC().Format("2006-01-02T15:04:05Z"), e.label(), e.Before, e.After)
			}
		}
	}
	r.writeOnlyOneSide(w)
	if len(r.Gates) > 0 {
		fmt.Fprintln(w)
		for _, g := range r.Gates {
			status := "ok  "
			if !g.OK {
				status = "FAIL"
			}
			fmt.Fprintf(w, "%s %s: %s\n", status, g.Name, g.Msg)
		}
	}
	if r.OK() {
		fmt.Fprintln(w, "\nPASS")
	} else {
		fmt.Fprintln(w, "\nFAIL: a gate failed")
	}
}

func (r *ImpactReport) writeOnlyOneSide(w io.Writer) {
	if d := r.Decisions; d.OnlyBase > 0 || d.OnlyHead > 0 {
		fmt.Fprintf(w, "decided under one bundle only (refused by the other's schema): base %d, head %d\n", d.OnlyBase, d.OnlyHead)
	}
}

// WriteMarkdown prints the impact report for a job summary or a pull
// request comment.
func (r *ImpactReport) WriteMarkdown(w io.Writer) {
	before, after := r.AlertsPerDay()
	verdict := "✅"
	if !r.OK() {
		verdict = "❌"
	}
	fmt.Fprintf(w, "### %s Impact of this change on `%s`\n\n", verdict, r.Data)
	fmt.Fprintf(w, "Base `%s` (revision `%s`) → head (revision `%s`). Period %s (%d days): **%d records, %d frauds**.\n\n",
		r.BaseRef, r.Base.PolicyRevision, r.Head.PolicyRevision, r.Head.period(), r.Head.Days, r.Head.Records, r.Head.Frauds)
	fmt.Fprintln(w, "| | base | head | change |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	fmt.Fprintf(w, "| alerts per day | %.1f | %.1f | %s |\n", before, after, signedPct(r.AlertIncrease()))
	fmt.Fprintf(w, "| allow / review / block | %s | %s | |\n", mix(r.Base), mix(r.Head))
	fmt.Fprintf(w, "| decisions changed | | | %s |\n", r.changedShare())
	if len(r.Gates) > 0 {
		fmt.Fprintln(w, "\n**Gates**")
		fmt.Fprintln(w)
		for _, g := range r.Gates {
			mark := "✅"
			if !g.OK {
				mark = "❌"
			}
			fmt.Fprintf(w, "- %s %s: %s\n", mark, g.Name, mdCell(g.Msg))
		}
	}
	fmt.Fprintln(w, "\n#### Rules")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| rule | mode | status | hits | precision | recall | alerts/day |")
	fmt.Fprintln(w, "|---|---|---|---:|---:|---:|---:|")
	for _, d := range r.Rules {
		if !d.shown() {
			continue
		}
		hits, prec, recall, perDay := d.cells()
		status := d.Status
		if status != "unchanged" {
			status = "**" + status + "**"
		}
		fmt.Fprintf(w, "| `%s` | %s | %s | %s | %s | %s | %s |\n", d.Rule, d.mode(), status, hits, prec, recall, perDay)
	}
	if q := r.quiet(); len(q) > 0 {
		fmt.Fprintf(w, "\nUnchanged, no hits: %s.\n", "`"+strings.Join(q, "`, `")+"`")
	}
	fmt.Fprintln(w, "\n#### Decisions that changed")
	fmt.Fprintln(w)
	if len(r.Decisions.Transitions) == 0 {
		fmt.Fprintln(w, "None: every record gets the same decision.")
	} else {
		fmt.Fprintln(w, "| from → to | records | labelled fraud |")
		fmt.Fprintln(w, "|---|---:|---:|")
		for _, t := range r.Decisions.Transitions {
			fmt.Fprintf(w, "| %s | %d | %d |\n", t.name(), t.Count, t.Frauds)
		}
		fmt.Fprintln(w, "\n<details><summary>Examples</summary>")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| record | time | label | before | after |")
		fmt.Fprintln(w, "|---|---|---|---|---|")
		for _, t := range r.Decisions.Transitions {
			for _, e := range t.Examples {
				fmt.Fprintf(w, "| `%s` | %s | %s | %s | %s |\n", mdCell(e.ID), e.Time.UTC().Format("2006-01-02 15:04:05"), e.label(), mdCell(e.Before.String()), mdCell(e.After.String()))
			}
		}
		fmt.Fprintln(w, "\n</details>")
	}
	if d := r.Decisions; d.OnlyBase > 0 || d.OnlyHead > 0 {
		fmt.Fprintf(w, "\nDecided under one bundle only (refused by the other's schema): base %d, head %d.\n", d.OnlyBase, d.OnlyHead)
	}
}
