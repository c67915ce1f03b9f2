package check

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/record"
)

// ImpactOptions compare two bundles over one labelled dataset.
type ImpactOptions struct {
	Backtest BacktestOptions // Backtest.Policies is the head: the change under review
	Base     string          // the base bundle, a directory or .tar.gz (ResolveBase turns a git ref into one)
	BaseRef  string          // how the base was named, for the report; Base when empty

	Examples int // changed decisions kept per transition (allow → block, …); 3 by default

	// Gates. MaxAlertIncrease is a fraction (0.2 = alerts per day may grow
	// by 20%); nil leaves alert volume ungated. MinPrecision, when above 0,
	// is the precision every enforced rule the change touched (new, or with
	// other hits than before) must keep.
	MaxAlertIncrease *float64
	MinPrecision     float64
}

// ImpactReport is what a change does to a labelled dataset: both backtests,
// per rule before → after, and the decisions that changed.
type ImpactReport struct {
	Data      string          `json:"data"`
	BaseRef   string          `json:"base_ref"`
	Base      *BacktestReport `json:"base"`
	Head      *BacktestReport `json:"head"`
	Rules     []RuleDelta     `json:"rules"`
	Decisions DecisionChanges `json:"decisions"`
	Gates     []Gate          `json:"gates"`
}

// RuleDelta is one rule under the base and the head bundle; Before is nil
// for a new rule, After for a removed one.
type RuleDelta struct {
	Rule   string     `json:"rule"`
	Status string     `json:"status"` // new, removed, changed (other hits) or unchanged
	Before *RuleStats `json:"before,omitempty"`
	After  *RuleStats `json:"after,omitempty"`
}

// DecisionChanges compares the decisions record by record.
type DecisionChanges struct {
	Compared    int          `json:"compared"` // records decided under both bundles
	Changed     int          `json:"changed"`  // another action or another set of hits
	Transitions []Transition `json:"transitions"`
	OnlyBase    int          `json:"only_base,omitempty"` // decided under one bundle only (its schema refused them under the other)
	OnlyHead    int          `json:"only_head,omitempty"`
}

// Transition counts the changed decisions from one action to another
// (the same action when only the hits changed), with examples.
type Transition struct {
	From     string            `json:"from"`
	To       string            `json:"to"`
	Count    int               `json:"count"`
	Frauds   int               `json:"frauds"` // of them, labelled fraud
	Examples []ChangedDecision `json:"examples"`
}

// ChangedDecision is one record decided differently.
type ChangedDecision struct {
	ID     string       `json:"id"`
	Time   time.Time    `json:"ts"`
	Fraud  *bool        `json:"fraud,omitempty"` // its label, when it had one
	Before DecisionView `json:"before"`
	After  DecisionView `json:"after"`
}

// DecisionView is the part of a decision a reviewer compares.
type DecisionView struct {
	Action     string   `json:"action"`
	Score      int      `json:"score"`
	Hits       []string `json:"hits"`
	ShadowHits []string `json:"shadow_hits,omitempty"`
}

// Gate is one check that can fail the job.
type Gate struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	Msg  string `json:"message"`
	File string `json:"file,omitempty"` // the rule a failure is about, when there is one
	Line int    `json:"line,omitempty"`
}

// OK reports whether every gate passed.
func (r *ImpactReport) OK() bool {
	for _, g := range r.Gates {
		if !g.OK {
			return false
		}
	}
	return true
}

// AlertsPerDay is the alert volume under the base and the head bundle.
func (r *ImpactReport) AlertsPerDay() (before, after float64) {
	return perDay(r.Base.Alerts, r.Base.Days), perDay(r.Head.Alerts, r.Head.Days)
}

// AlertIncrease is the relative change of alerts per day: 0.25 for +25%,
// +Inf when the base raised none and the head some.
func (r *ImpactReport) AlertIncrease() float64 {
	before, after := r.AlertsPerDay()
	switch {
	case before == 0 && after == 0:
		return 0
	case before == 0:
		return math.Inf(1)
	}
	return (after - before) / before
}

func perDay(n, days int) float64 { return float64(n) / float64(max(days, 1)) }

// Impact replays the dataset under the base bundle, then under the head
// bundle, and compares them rule by rule and record by record. The base's
// decisions are kept in record order as 16 bytes each (a hash of the record
// id and an index into the distinct decisions seen), so the join is a walk
// along both. Running the two replays side by side instead was measured
// slower on two cores (16.3s against 13.8s for 134k records): each replay
// already evaluates on every core.
func Impact(ctx context.Context, o ImpactOptions) (*ImpactReport, error) {
	if o.Base == "" {
		return nil, errors.New("impact: no base bundle")
	}
	j := &joiner{examples: cmp.Or(o.Examples, 3), views: map[string]uint32{}, trans: map[[2]string]*Transition{}}

	bo := o.Backtest
	bo.Policies, bo.OnDecision = o.Base, j.keep
	base, err := Backtest(ctx, bo)
	if err != nil {
		return nil, fmt.Errorf("backtest under the base bundle %s: %w", cmp.Or(o.BaseRef, o.Base), err)
	}
	ho := o.Backtest
	ho.OnDecision = j.compare
	head, err := Backtest(ctx, ho)
	if err != nil {
		return nil, fmt.Errorf("backtest under the head bundle %s: %w", o.Backtest.Policies, err)
	}

	rep := &ImpactReport{Data: o.Backtest.Data, BaseRef: cmp.Or(o.BaseRef, o.Base), Base: base, Head: head, Decisions: j.result()}
	rep.Rules = ruleDeltas(rep.Base.Rules, rep.Head.Rules)
	rep.Gates = gates(rep, o)
	return rep, nil
}

func ruleDeltas(base, head []RuleStats) []RuleDelta {
	byName := map[string]*RuleDelta{}
	for i := range base {
		byName[base[i].Rule] = &RuleDelta{Rule: base[i].Rule, Status: "removed", Before: &base[i]}
	}
	for i := range head {
		d := byName[head[i].Rule]
		if d == nil {
			d = &RuleDelta{Rule: head[i].Rule, Status: "new"}
			byName[head[i].Rule] = d
		} else {
			d.Status = "unchanged"
			if b := d.Before; b.Hits != head[i].Hits || b.TruePos != head[i].TruePos || b.Alerts != head[i].Alerts || b.Mode != head[i].Mode {
				d.Status = "changed"
			}
		}
		d.After = &head[i]
	}
	out := make([]RuleDelta, 0, len(byName))
	for _, d := range byName {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b RuleDelta) int { return cmp.Compare(a.Rule, b.Rule) })
	return out
}

func gates(r *ImpactReport, o ImpactOptions) []Gate {
	var out []Gate
	if o.MaxAlertIncrease != nil {
		limit := *o.MaxAlertIncrease
		before, after := r.AlertsPerDay()
		inc := r.AlertIncrease()
		g := Gate{Name: "alert volume", OK: inc <= limit}
		g.Msg = fmt.Sprintf("alerts per day %.1f → %.1f (%s), allowed at most %s", before, after, signedPct(inc), signedPct(limit))
		out = append(out, g)
	}
	if o.MinPrecision > 0 {
		checked, failed := 0, 0
		for _, d := range r.Rules {
			a := d.After
			if a == nil || a.Mode != string(decision.Enforce) || a.Hits == 0 || (d.Status != "new" && d.Status != "changed") {
				continue
			}
			checked++
			if a.Precision < o.MinPrecision {
				failed++
				before := "new rule"
				if d.Before != nil {
					before = "was " + pct(d.Before.Precision)
				}
				out = append(out, Gate{Name: "precision " + d.Rule, OK: false, File: a.File, Line: a.Line,
					Msg: fmt.Sprintf("rule %s: precision %s (%d of %d hits are fraud; %s) is below the required %s",
						d.Rule, pct(a.Precision), a.TruePos, a.Hits, before, pct(o.MinPrecision))})
			}
		}
		if failed == 0 {
			out = append(out, Gate{Name: "precision", OK: true,
				Msg: fmt.Sprintf("%d changed or new enforced rule(s) keep a precision of at least %s", checked, pct(o.MinPrecision))})
		}
	}
	return out
}

func signedPct(f float64) string {
	if math.IsInf(f, 1) {
		return "+∞%"
	}
	return fmt.Sprintf("%+.1f%%", 100*f)
}

func viewOf(d *decision.Decision) DecisionView {
	return DecisionView{Action: string(d.Action), Score: d.Score, Hits: ruleNames(d.Hits), ShadowHits: ruleNames(d.ShadowHits)}
}

func (v DecisionView) key() string {
	return v.Action + "|" + strings.Join(v.Hits, ",") + "|" + strings.Join(v.ShadowHits, ",")
}

// kept is one base decision: which record, and which of the distinct
// decisions (action and hits) it was.
type kept struct {
	id   uint64 // xxhash of the record id
	view uint32
}

// joiner keeps the base replay's decisions and compares the head replay's
// with them as they come. Both replays decide the records in the same
// order; a record only one bundle decided (the other's schema refused it)
// is stepped over.
type joiner struct {
	base     []kept
	views    map[string]uint32 // distinct decisions → index into viewList
	viewList []DecisionView
	next     int // the base decision the next head decision should match
	examples int
	out      DecisionChanges
	trans    map[[2]string]*Transition
}

// lookAhead bounds the search for a head record among the base decisions
// when the two replays are out of step.
const lookAhead = 64

func (j *joiner) keep(rec record.Record, _, _ bool, d *decision.Decision) {
	v := viewOf(d)
	k := v.key()
	idx, ok := j.views[k]
	if !ok {
		idx = uint32(len(j.viewList))
		j.views[k] = idx
		j.viewList = append(j.viewList, v)
	}
	j.base = append(j.base, kept{id: xxhash.Sum64String(rec.ID), view: idx})
}

func (j *joiner) compare(rec record.Record, fraud, labelled bool, d *decision.Decision) {
	id := xxhash.Sum64String(rec.ID)
	at := -1
	for i := j.next; i < min(j.next+lookAhead, len(j.base)); i++ {
		if j.base[i].id == id {
			at = i
			break
		}
	}
	if at < 0 {
		j.out.OnlyHead++
		return
	}
	j.out.OnlyBase += at - j.next
	j.next = at + 1
	j.out.Compared++
	before, after := j.viewList[j.base[at].view], viewOf(d)
	if before.equal(after) {
		return
	}
	j.out.Changed++
	key := [2]string{before.Action, after.Action}
	t := j.trans[key]
	if t == nil {
		t = &Transition{From: key[0], To: key[1]}
		j.trans[key] = t
	}
	t.Count++
	if labelled && fraud {
		t.Frauds++
	}
	if len(t.Examples) < j.examples {
		c := ChangedDecision{ID: rec.ID, Time: rec.Time, Before: before, After: after}
		if labelled {
			c.Fraud = &fraud
		}
		t.Examples = append(t.Examples, c)
	}
}

func (v DecisionView) equal(o DecisionView) bool {
	return v.Action == o.Action && slices.Equal(v.Hits, o.Hits) && slices.Equal(v.ShadowHits, o.ShadowHits)
}

// result lists the transitions, most frequent first.
func (j *joiner) result() DecisionChanges {
	out := j.out
	out.OnlyBase += len(j.base) - j.next
	for _, t := range j.trans {
		out.Transitions = append(out.Transitions, *t)
	}
	slices.SortFunc(out.Transitions, func(a, b Transition) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})
	if out.Transitions == nil {
		out.Transitions = []Transition{}
	}
	return out
}
