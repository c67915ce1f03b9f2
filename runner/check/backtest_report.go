package check

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/record"
)

// exporter writes the training table: one row per record with its label and
// the features and scores it saw.
type exporter struct {
	f        *os.File
	w        *csv.Writer
	features []string
	models   []string
	rows     int
	closed   bool
}

func newExporter(path string, features, models []string) (*exporter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	e := &exporter{f: f, w: csv.NewWriter(f), features: features, models: models}
	header := []string{"id", "ts", "label", "amount"}
	header = append(header, features...)
	for _, m := range models {
		header = append(header, "score_"+m)
	}
	header = append(header, "action", "score")
	return e, e.w.Write(header)
}

func (e *exporter) write(rec record.Record, label, known bool, d *decision.Decision) {
	row := make([]string, 0, 6+len(e.features)+len(e.models))
	l := ""
	if known {
		l = "0"
		if label {
			l = "1"
		}
	}
	row = append(row, rec.ID, record.FormatTime(rec.Time), l, num(rec.Fields["amount"]))
	for _, name := range e.features {
		row = append(row, num(d.Features[name]))
	}
	for _, m := range e.models {
		row = append(row, num(d.Scores[m]))
	}
	row = append(row, string(d.Action), strconv.Itoa(d.Score))
	_ = e.w.Write(row) // errors surface from Flush at close
	e.rows++
}

func num(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

func (e *exporter) close() error {
	if e.closed {
		return nil
	}
	e.closed = true
	e.w.Flush()
	if err := e.w.Error(); err != nil {
		e.f.Close()
		return fmt.Errorf("export: %w", err)
	}
	return e.f.Close()
}

func pct(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.3f", x)
}

func (r *BacktestReport) period() string {
	if r.From.IsZero() && r.To.IsZero() {
		return "the whole dataset"
	}
	from, to := "start", "end"
	if !r.From.IsZero() {
		from = r.From.Format(time.DateOnly)
	}
	if !r.To.IsZero() {
		to = r.To.Add(-time.Nanosecond).Format(time.DateOnly)
	}
	return from + " – " + to
}

// WriteText prints the report for a terminal.
func (r *BacktestReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "backtest of %s under policy revision %s\n", r.Data, r.PolicyRevision)
	fmt.Fprintf(w, "period %s (%d days): %d records, %d frauds (%.3f%%); %d replayed in %.1fs\n",
		r.period(), r.Days, r.Records, r.Frauds, 100*ratio(r.Frauds, r.Records), r.Replayed, r.ElapsedSeconds)
	if r.Excluded > 0 {
		fmt.Fprintf(w, "left out %d records of cards already known to be compromised\n", r.Excluded)
	}
	fmt.Fprintf(w, "decisions: allow %d, review %d, block %d; %d alerts (%.1f/day)\n\n",
		r.Actions["allow"], r.Actions["review"], r.Actions["block"], r.Alerts, float64(r.Alerts)/float64(max(r.Days, 1)))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "rule\tmode\thits\tfrauds hit\tprecision\trecall\talerts/day")
	var silent []string
	for _, s := range r.Rules {
		if s.Hits == 0 {
			silent = append(silent, s.Rule)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%.1f\n", s.Rule, s.Mode, s.Hits, s.TruePos, pct(s.Precision), pct(s.Recall), s.AlertsPerDay)
	}
	tw.Flush()
	if len(silent) > 0 {
		fmt.Fprintf(w, "no hits: %s\n", strings.Join(silent, ", "))
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "score\tROC AUC\taverage precision\tcard precision@k")
	for _, s := range r.Scores {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s (k=%d)\n", s.Name, pct(s.ROCAUC), pct(s.AveragePrecision), pct(s.CardPrecisionAtK), s.K)
	}
	tw.Flush()
	if r.Exported > 0 {
		fmt.Fprintf(w, "\nexported %d rows\n", r.Exported)
	}
}

// WriteMarkdown prints the report for a pull request or a job summary.
func (r *BacktestReport) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "### Backtest: `%s` under policy revision `%s`\n\n", r.Data, r.PolicyRevision)
	fmt.Fprintf(w, "Period %s (%d days): **%d records, %d frauds** (%.3f%%). Decisions: allow %d, review %d, block %d. Alerts: %d (%.1f/day).\n\n",
		r.period(), r.Days, r.Records, r.Frauds, 100*ratio(r.Frauds, r.Records),
		r.Actions["allow"], r.Actions["review"], r.Actions["block"], r.Alerts, float64(r.Alerts)/float64(max(r.Days, 1)))
	fmt.Fprintln(w, "| rule | mode | hits | frauds hit | precision | recall | alerts/day |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|")
	for _, s := range r.Rules {
		fmt.Fprintf(w, "| `%s` | %s | %d | %d | %s | %s | %.1f |\n", s.Rule, s.Mode, s.Hits, s.TruePos, pct(s.Precision), pct(s.Recall), s.AlertsPerDay)
	}
	fmt.Fprintln(w, "\n| score | ROC AUC | average precision | card precision@k |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	for _, s := range r.Scores {
		fmt.Fprintf(w, "| `%s` | %s | %s | %s (k=%d) |\n", s.Name, pct(s.ROCAUC), pct(s.AveragePrecision), pct(s.CardPrecisionAtK), s.K)
	}
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
