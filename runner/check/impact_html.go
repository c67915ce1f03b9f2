package check

import (
	"fmt"
	"html"
	"html/template"
	"io"
	"strings"
)

// WriteHTML writes the impact report as one self-contained HTML page: the
// tables of the Markdown report and bar charts drawn as inline SVG (no
// scripts, no fonts, nothing fetched), to keep as a CI artifact.
func (r *ImpactReport) WriteHTML(w io.Writer) error {
	var shown []RuleDelta // the rules that changed or fire
	for _, d := range r.Rules {
		if d.shown() {
			shown = append(shown, d)
		}
	}
	series := func(f func(*RuleStats) float64) (labels []string, before, after []float64) {
		for _, d := range shown {
			labels = append(labels, d.Rule)
			before, after = append(before, statOr0(d.Before, f)), append(after, statOr0(d.After, f))
		}
		return
	}
	l, b, a := series(func(s *RuleStats) float64 { return s.AlertsPerDay })
	alerts := barChart("Alerts per day by rule", l, b, a, func(v float64) string { return fmt.Sprintf("%.1f", v) })
	l, b, a = series(func(s *RuleStats) float64 { return float64(s.Hits) })
	hits := barChart("Hits by rule", l, b, a, func(v float64) string { return fmt.Sprintf("%.0f", v) })
	l, b, a = series(func(s *RuleStats) float64 { return s.Precision })
	prec := barChart("Precision by rule", l, b, a, func(v float64) string { return fmt.Sprintf("%.3f", v) })
	l, b, a = series(func(s *RuleStats) float64 { return s.Recall })
	recall := barChart("Recall by rule", l, b, a, func(v float64) string { return fmt.Sprintf("%.3f", v) })
	var mixB, mixA []float64
	for _, act := range []string{"allow", "review", "block"} {
		mixB, mixA = append(mixB, float64(r.Base.Actions[act])), append(mixA, float64(r.Head.Actions[act]))
	}
	decisions := barChart("Decisions", []string{"allow", "review", "block"}, mixB, mixA, func(v float64) string { return fmt.Sprintf("%.0f", v) })

	type ruleRow struct {
		Rule, Mode, Status string
		Cells              []string
	}
	rows := make([]ruleRow, 0, len(shown))
	for _, d := range shown {
		h, p, rc, pd := d.cells()
		rows = append(rows, ruleRow{Rule: d.Rule, Mode: d.mode(), Status: d.Status, Cells: []string{h, p, rc, pd}})
	}
	type transitionRow struct {
		Name          string
		Count, Frauds int
	}
	type exampleRow struct{ ID, Time, Label, Before, After string }
	var transitions []transitionRow
	var examples []exampleRow
	for _, t := range r.Decisions.Transitions {
		transitions = append(transitions, transitionRow{t.name(), t.Count, t.Frauds})
		for _, e := range t.Examples {
			examples = append(examples, exampleRow{e.ID, e.Time.UTC().Format("2006-01-02 15:04:05"), e.label(), e.Before.String(), e.After.String()})
		}
	}
	before, after := r.AlertsPerDay()
	return impactPage.Execute(w, map[string]any{
		"R": r, "Rules": rows, "Quiet": strings.Join(r.quiet(), ", "), "Transitions": transitions, "Examples": examples,
		"Before": fmt.Sprintf("%.1f", before), "After": fmt.Sprintf("%.1f", after), "Increase": signedPct(r.AlertIncrease()),
		"MixBase": mix(r.Base), "MixHead": mix(r.Head), "Changed": r.changedShare(), "Period": r.Head.period(),
		"Charts": []template.HTML{alerts, decisions, hits, prec, recall},
	})
}

func statOr0(s *RuleStats, f func(*RuleStats) float64) float64 {
	if s == nil {
		return 0
	}
	return f(s)
}

// barChart draws base and head side by side for each label, as SVG.
func barChart(title string, labels []string, before, after []float64, format func(float64) string) template.HTML {
	const (
		labelW, barW, valueW = 230, 400, 70
		rowH, barH, top      = 34, 12, 40
	)
	width := labelW + barW + valueW
	height := top + rowH*len(labels) + 10
	peak := 0.0
	for i := range labels {
		peak = max(peak, before[i], after[i])
	}
	scale := func(v float64) float64 {
		if peak == 0 {
			return 0
		}
		return v / peak * barW
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" role="img" width="%d" height="%d" viewBox="0 0 %d %d" aria-label="%s">`,
		width, height, width, height, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="0" y="16" class="title">%s</text>`, html.EscapeString(title))
	fmt.Fprintf(&b, `<rect x="%d" y="24" width="10" height="10" class="base"/><text x="%d" y="33" class="legend">base</text>`, labelW, labelW+14)
	fmt.Fprintf(&b, `<rect x="%d" y="24" width="10" height="10" class="head"/><text x="%d" y="33" class="legend">head</text>`, labelW+60, labelW+74)
	for i, label := range labels {
		y := top + rowH*i
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="label" text-anchor="end">%s</text>`, labelW-8, y+barH+4, html.EscapeString(label))
		for j, v := range []float64{before[i], after[i]} {
			class := [2]string{"base", "head"}[j]
			by := y + j*(barH+2)
			w := scale(v)
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" class="%s"><title>%s %s: %s</title></rect>`,
				labelW, by, w, barH, class, html.EscapeString(label), class, format(v))
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="value">%s</text>`, float64(labelW)+w+4, by+barH-2, format(v))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every piece of text above is escaped
}

var impactPage = template.Must(template.New("impact").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Vigil backtest impact: {{.R.Data}}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1000px; color: #1f2328; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 12px ui-monospace, monospace; background: #f6f8fa; padding: 1px 4px; border-radius: 4px; }
.ok { color: #1a7f37; } .fail { color: #cf222e; font-weight: 600; }
.status-new, .status-changed, .status-removed { font-weight: 600; }
svg { display: block; margin: 1em 0; }
svg .title { font-size: 14px; font-weight: 600; fill: #1f2328; }
svg .label, svg .legend, svg .value { font-size: 12px; fill: #1f2328; }
svg .base { fill: #8c959f; } svg .head { fill: #0969da; }
</style>
</head>
<body>
<h1>Impact of this change on <code>{{.R.Data}}</code></h1>
<p>Base <code>{{.R.BaseRef}}</code> (revision <code>{{.R.Base.PolicyRevision}}</code>) → head (revision <code>{{.R.Head.PolicyRevision}}</code>).
Period {{.Period}} ({{.R.Head.Days}} days): <strong>{{.R.Head.Records}} records, {{.R.Head.Frauds}} frauds</strong>.</p>
<table>
<tr><th></th><th>base</th><th>head</th><th>change</th></tr>
<tr><td>alerts per day</td><td class="n">{{.Before}}</td><td class="n">{{.After}}</td><td class="n">{{.Increase}}</td></tr>
<tr><td>allow / review / block</td><td class="n">{{.MixBase}}</td><td class="n">{{.MixHead}}</td><td></td></tr>
<tr><td>decisions changed</td><td></td><td></td><td class="n">{{.Changed}}</td></tr>
</table>
{{if .R.Gates}}<h2>Gates</h2>
<ul>{{range .R.Gates}}<li>{{if .OK}}<span class="ok">pass</span>{{else}}<span class="fail">FAIL</span>{{end}} {{.Name}}: {{.Msg}}</li>{{end}}</ul>{{end}}
<h2>Charts</h2>
{{range .Charts}}{{.}}{{end}}
<h2>Rules</h2>
<table>
<tr><th>rule</th><th>mode</th><th>status</th><th>hits</th><th>precision</th><th>recall</th><th>alerts/day</th></tr>
{{range .Rules}}<tr><td><code>{{.Rule}}</code></td><td>{{.Mode}}</td><td class="status-{{.Status}}">{{.Status}}</td>{{range .Cells}}<td class="n">{{.}}</td>{{end}}</tr>
{{end}}</table>
{{if .Quiet}}<p>Unchanged, no hits: {{.Quiet}}.</p>{{end}}
<h2>Decisions that changed</h2>
{{if .Transitions}}<table>
<tr><th>from → to</th><th>records</th><th>labelled fraud</th></tr>
{{range .Transitions}}<tr><td>{{.Name}}</td><td class="n">{{.Count}}</td><td class="n">{{.Frauds}}</td></tr>
{{end}}</table>
<table>
<tr><th>record</th><th>time</th><th>label</th><th>before</th><th>after</th></tr>
{{range .Examples}}<tr><td><code>{{.ID}}</code></td><td>{{.Time}}</td><td>{{.Label}}</td><td>{{.Before}}</td><td>{{.After}}</td></tr>
{{end}}</table>{{else}}<p>None: every record gets the same decision.</p>{{end}}
</body>
</html>
`))
