package check

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/feature"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/policy"
	"github.com/vigil-risk/vigil/runner/record"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// BacktestOptions say what to replay and how to judge it.
type BacktestOptions struct {
	Policies    string         // bundle directory or .tar.gz
	Data        string         // labelled dataset: JSON, JSONL or CSV, optionally .gz
	Format      record.Format  // auto by default
	Record      record.Options // the mapping of the dataset onto the schema
	Label       string         // the column (before renames) or field holding ground truth; stripped before rules see the record
	LabelDelay  time.Duration  // a record's label reaches the features this long after the record
	From, To    time.Time      // the evaluation period [From, To); zero: everything
	K           int            // card precision@k; 100 by default
	CardField   string         // the entity of card precision@k; card_id by default (customer_id when a record lacks it)
	MinSeverity decision.Severity
	Features    feature.Options // lateness and the like
	MaxEntities int             // feature entities held in memory; 0: no cap
	Workers     int

	// KnownSince, when set, leaves out of the metrics every record of a card
	// already known to be compromised: one with a fraud label about an event
	// since KnownSince that arrived before the record's day began — the
	// handbook's test protocol ("cards already known compromised are
	// removed"); labels arrive LabelDelay after their event.
	KnownSince time.Time

	// Export writes every record of [ExportFrom, ExportTo) with its label and
	// the features and scores it saw as CSV, e.g. to train a model.
	Export               string
	ExportFrom, ExportTo time.Time

	// OnDecision, when set, sees every decision of the evaluation period in
	// record order (records left out as already known compromised are not
	// seen), with the record's label when it had one.
	OnDecision func(rec record.Record, fraud, labelled bool, d *decision.Decision)

	Progress io.Writer // a terminal for a progress bar; nil for none
	Log      *slog.Logger
}

// BacktestReport is what a backtest found over the evaluation period.
type BacktestReport struct {
	Data           string            `json:"data"`
	PolicyRevision string            `json:"policy_revision"`
	From           time.Time         `json:"from,omitzero"`
	To             time.Time         `json:"to,omitzero"`
	Days           int               `json:"days"`
	Replayed       int               `json:"replayed"` // every record read, warm-up included
	Refused        int               `json:"refused"`
	Excluded       int               `json:"excluded_known_compromised,omitempty"`
	Records        int               `json:"records"` // decided within the period
	Frauds         int               `json:"frauds"`
	Actions        map[string]int    `json:"actions"`
	Rules          []RuleStats       `json:"rules"`
	Scores         []ScoreStats      `json:"scores"`
	Alerts         int               `json:"alerts"`
	ElapsedSeconds float64           `json:"elapsed_seconds"`
	Exported       int               `json:"exported,omitempty"`
	Confusion      map[string][2]int `json:"confusion"` // action → [frauds, legitimate]
}

// RuleStats is one rule's record over the period.
type RuleStats struct {
	Rule         string  `json:"rule"`
	Mode         string  `json:"mode"`
	Hits         int     `json:"hits"`
	TruePos      int     `json:"true_positives"`
	Precision    float64 `json:"precision"`
	Recall       float64 `json:"recall"`
	Alerts       int     `json:"alerts"`
	AlertsPerDay float64 `json:"alerts_per_day"`
	File         string  `json:"file,omitempty"` // where the rule is defined
	Line         int     `json:"line,omitempty"`
}

// ScoreStats ranks records by one score: a model's, or the decision score.
type ScoreStats struct {
	Name             string  `json:"name"`
	ROCAUC           float64 `json:"roc_auc"`
	AveragePrecision float64 `json:"average_precision"`
	CardPrecisionAtK float64 `json:"card_precision_at_k"`
	K                int     `json:"k"`
}

// Backtest replays a labelled dataset through the real pipeline — features,
// scores, rules, alerts — and measures each rule and score against the
// labels. Labels are stripped from the records before anything sees them and
// reach the features only as label records, LabelDelay after their record
// (the handbook's protocol: features see a transaction's fraud label only
// once it is known).
func Backtest(ctx context.Context, o BacktestOptions) (*BacktestReport, error) {
	log := cmp.Or(o.Log, slog.New(slog.DiscardHandler))
	o.K = cmp.Or(o.K, 100)
	o.CardField = cmp.Or(o.CardField, "card_id")
	o.MinSeverity = cmp.Or(o.MinSeverity, decision.Medium)
	start := time.Now()

	engine, err := policy.NewEngine(ctx, o.Policies, log)
	if err != nil {
		return nil, err
	}
	pol := engine.Current()
	labelField, err := resolveLabel(o.Label, o.Record, pol.Schema)
	if err != nil {
		return nil, err
	}
	feats, err := feature.NewEngine(pol.Features, feature.NewMemoryStore(feature.MemoryOptions{MaxEntities: o.MaxEntities}), o.Features)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "vigil-backtest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	db, err := sqldb.Open(ctx, filepath.Join(dir, "alerts.db"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	store, err := alertsqlite.New(ctx, db)
	if err != nil {
		return nil, err
	}
	alerts, err := alert.NewService(store, alert.Options{MinSeverity: o.MinSeverity})
	if err != nil {
		return nil, err
	}

	b := &backtest{o: o, pol: pol, labelField: labelField, labels: map[string]bool{}, known: map[string]time.Time{},
		rules: map[string]*RuleStats{}, scores: map[string][]float64{},
		rep: &BacktestReport{Data: o.Data, PolicyRevision: pol.Revision, From: o.From, To: o.To,
			Actions: map[string]int{}, Confusion: map[string][2]int{}}}
	for _, r := range pol.Rules {
		b.rules[r.Name] = &RuleStats{Rule: r.Name, Mode: string(r.Mode), File: r.File, Line: r.Line}
	}
	pipe, err := pipeline.New(engine, pipeline.Options{
		Env: "backtest", RunnerVersion: "backtest", Record: o.Record, Features: feats, LogFeatures: true,
		Workers: o.Workers, Alerts: alerts, OnAlerts: b.alerted, Log: log,
	})
	if err != nil {
		return nil, err
	}
	if o.Export != "" {
		if b.export, err = newExporter(o.Export, pol.Features.Names(), modelNames(pol)); err != nil {
			return nil, err
		}
		defer b.export.close()
	}

	src, err := b.source(pipe)
	if err != nil {
		return nil, err
	}
	stopProgress := b.progress()
	err = pipe.Run(ctx, src, b.decided)
	stopProgress()
	if err != nil && !errors.Is(err, errDone) {
		return nil, err
	}
	if b.export != nil {
		if err := b.export.close(); err != nil {
			return nil, err
		}
		b.rep.Exported = b.export.rows
	}
	b.summarise()
	b.rep.ElapsedSeconds = time.Since(start).Seconds()
	return b.rep, nil
}

// resolveLabel finds the record field holding the label: the column as
// renamed by the mapping, or a field (or alias) of the schema.
func resolveLabel(label string, ro record.Options, schema *record.Schema) (string, error) {
	if label == "" {
		return "", fmt.Errorf("backtest: --label: name the column or field holding the ground truth")
	}
	name := label
	if to, ok := ro.Rename[label]; ok {
		name = to
	}
	if schema != nil {
		if f, ok := schema.Field(name); ok {
			return f.Name, nil
		}
	}
	return name, nil // an unknown field kept as is
}

type backtest struct {
	o          BacktestOptions
	pol        *policy.Policy
	labelField string
	rep        *BacktestReport
	rules      map[string]*RuleStats
	scores     map[string][]float64
	truth      []bool
	cards      map[string][]Scored
	labelsMu   sync.Mutex
	labels     map[string]bool      // record id → label, between reading (source goroutine) and deciding (in order)
	known      map[string]time.Time // card → when its first fraud label (event since KnownSince) arrived
	replayed   atomic.Int64
	refused    atomic.Int64
	read       atomic.Int64 // bytes of the data file read, for the progress bar
	size       int64
	export     *exporter
	days       map[time.Time]bool
}

// end is when the replay can stop: after the evaluation and export periods
// (zero when one of them is open-ended).
func (b *backtest) end() time.Time {
	if b.o.To.IsZero() || (b.o.Export != "" && b.o.ExportTo.IsZero()) {
		return time.Time{}
	}
	if b.o.Export != "" && b.o.ExportTo.After(b.o.To) {
		return b.o.ExportTo
	}
	return b.o.To
}

func (b *backtest) inPeriod(t time.Time) bool {
	return (b.o.From.IsZero() || !t.Before(b.o.From)) && (b.o.To.IsZero() || t.Before(b.o.To))
}

// decided sees every decision in order.
func (b *backtest) decided(rec record.Record, d *decision.Decision) {
	b.labelsMu.Lock()
	label, known := b.labels[rec.ID]
	delete(b.labels, rec.ID)
	b.labelsMu.Unlock()
	if b.export != nil && !rec.Time.Before(b.o.ExportFrom) && (b.o.ExportTo.IsZero() || rec.Time.Before(b.o.ExportTo)) {
		b.export.write(rec, label, known, d)
	}
	if !b.inPeriod(rec.Time) {
		return
	}
	card := b.card(rec)
	day := rec.Time.UTC().Truncate(24 * time.Hour)
	if b.knownBefore(card, day) {
		b.rep.Excluded++
		return
	}
	if b.o.OnDecision != nil {
		b.o.OnDecision(rec, label, known, d)
	}
	r := b.rep
	r.Records++
	if label {
		r.Frauds++
	}
	r.Actions[string(d.Action)]++
	c := r.Confusion[string(d.Action)]
	if label {
		c[0]++
	} else {
		c[1]++
	}
	r.Confusion[string(d.Action)] = c
	for _, hits := range [][]decision.Hit{d.Hits, d.ShadowHits} {
		for _, h := range hits {
			s := b.rules[h.Rule]
			if s == nil {
				s = &RuleStats{Rule: h.Rule}
				b.rules[h.Rule] = s
			}
			s.Hits++
			if label {
				s.TruePos++
			}
		}
	}
	b.truth = append(b.truth, label)
	b.scores["decision.score"] = append(b.scores["decision.score"], float64(d.Score))
	for _, name := range modelNames(b.pol) {
		b.scores[name] = append(b.scores[name], d.Scores[name])
	}
	if b.cards == nil {
		b.cards, b.days = map[string][]Scored{}, map[time.Time]bool{}
	}
	b.days[day] = true
	b.cards["decision.score"] = append(b.cards["decision.score"], Scored{Entity: card, Day: day, Score: float64(d.Score), Fraud: label})
	for _, name := range modelNames(b.pol) {
		b.cards[name] = append(b.cards[name], Scored{Entity: card, Day: day, Score: d.Scores[name], Fraud: label})
	}
}

// card is the entity of card precision@k and of known compromise.
func (b *backtest) card(rec record.Record) string {
	if c := fieldText(rec.Fields, b.o.CardField); c != "" {
		return c
	}
	return fieldText(rec.Fields, "customer_id")
}

// labelArrived notes a fraud label reaching the features (source goroutine).
func (b *backtest) labelArrived(l record.Record, fraud bool, event time.Time) {
	if !fraud || b.o.KnownSince.IsZero() || event.Before(b.o.KnownSince) {
		return
	}
	card := b.card(l)
	b.labelsMu.Lock()
	if _, ok := b.known[card]; !ok {
		b.known[card] = l.Time
	}
	b.labelsMu.Unlock()
}

func (b *backtest) knownBefore(card string, day time.Time) bool {
	b.labelsMu.Lock()
	defer b.labelsMu.Unlock()
	at, ok := b.known[card]
	return ok && at.Before(day)
}

// alerted counts alerts raised (a first hit) within the period, per rule.
func (b *backtest) alerted(touched []alert.Alert) {
	for _, a := range touched {
		if a.Count != 1 || !b.inPeriod(a.LastSeen) {
			continue
		}
		b.rep.Alerts++
		if s := b.rules[a.Rule]; s != nil {
			s.Alerts++
		}
	}
}

func (b *backtest) summarise() {
	r := b.rep
	r.Days = len(b.days)
	r.Replayed = int(b.replayed.Load())
	r.Refused = int(b.refused.Load())
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range b.rules {
			if !yield(n) {
				return
			}
		}
	})
	for _, n := range names {
		s := b.rules[n]
		if s.Hits > 0 {
			s.Precision = float64(s.TruePos) / float64(s.Hits)
		}
		if r.Frauds > 0 {
			s.Recall = float64(s.TruePos) / float64(r.Frauds)
		}
		if r.Days > 0 {
			s.AlertsPerDay = float64(s.Alerts) / float64(r.Days)
		}
		r.Rules = append(r.Rules, *s)
	}
	for _, name := range append(modelNames(b.pol), "decision.score") {
		ap, ok := AveragePrecision(b.scores[name], b.truth)
		if !ok {
			ap = math.NaN()
		}
		auc, ok := ROCAUC(b.scores[name], b.truth)
		if !ok {
			auc = math.NaN()
		}
		cp, _ := CardPrecisionAtK(b.cards[name], b.o.K)
		r.Scores = append(r.Scores, ScoreStats{Name: name, ROCAUC: auc, AveragePrecision: ap, CardPrecisionAtK: cp, K: b.o.K})
	}
}

func modelNames(p *policy.Policy) []string {
	if p.Models == nil {
		return nil
	}
	return p.Models.Names()
}

func fieldText(fields map[string]any, name string) string {
	switch v := fields[name].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// MarshalJSON writes an undefined average precision (no frauds) as null.
func (s ScoreStats) MarshalJSON() ([]byte, error) {
	type plain struct {
		Name             string   `json:"name"`
		ROCAUC           *float64 `json:"roc_auc"`
		AveragePrecision *float64 `json:"average_precision"`
		CardPrecisionAtK float64  `json:"card_precision_at_k"`
		K                int      `json:"k"`
	}
	p := plain{Name: s.Name, CardPrecisionAtK: s.CardPrecisionAtK, K: s.K}
	if !math.IsNaN(s.AveragePrecision) {
		p.AveragePrecision = &s.AveragePrecision
	}
	if !math.IsNaN(s.ROCAUC) {
		p.ROCAUC = &s.ROCAUC
	}
	return json.Marshal(p)
}
