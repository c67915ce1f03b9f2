// Package decision holds the domain types every stage shares: the action a
// rule asks for, severities, a rule hit and the decision made for a record.
// It depends on nothing but the standard library, so that records, alerts and
// notifications can speak about decisions without importing OPA or a database.
package decision

import (
	"encoding/json"
	"fmt"
	"time"
)

// Action is what a decision (or a rule hit) asks the caller to do.
type Action string

const (
	Allow  Action = "allow"
	Review Action = "review"
	Block  Action = "block"
)

// Rank orders actions from weakest to strongest; unknown actions rank -1.
func (a Action) Rank() int {
	switch a {
	case Allow:
		return 0
	case Review:
		return 1
	case Block:
		return 2
	}
	return -1
}

// ParseAction accepts allow, review or block.
func ParseAction(s string) (Action, error) {
	a := Action(s)
	if a.Rank() < 0 {
		return "", fmt.Errorf("action %q: want allow, review or block", s)
	}
	return a, nil
}

// Severity grades a rule. Its weight feeds the decision score.
type Severity string

const (
	Low      Severity = "low"
	Medium   Severity = "medium"
	High     Severity = "high"
	Critical Severity = "critical"
)

// Rank orders severities from low (0) to critical (3); unknown ones rank -1.
func (s Severity) Rank() int {
	switch s {
	case Low:
		return 0
	case Medium:
		return 1
	case High:
		return 2
	case Critical:
		return 3
	}
	return -1
}

// Weight is the score contribution of one enforced hit of this severity.
// The decision score is the sum of the weights of its enforced hits, capped
// at 100: one high hit scores 70, a medium and a low together 40.
func (s Severity) Weight() int {
	switch s {
	case Low:
		return 10
	case Medium:
		return 30
	case High:
		return 70
	case Critical:
		return 100
	}
	return 0
}

// ParseSeverity accepts low, medium, high or critical.
func ParseSeverity(s string) (Severity, error) {
	v := Severity(s)
	if v.Rank() < 0 {
		return "", fmt.Errorf("severity %q: want low, medium, high or critical", s)
	}
	return v, nil
}

// Mode says whether a rule's hits act (enforce) or are only recorded (shadow).
type Mode string

const (
	Enforce Mode = "enforce"
	Shadow  Mode = "shadow"
)

// ParseMode accepts enforce or shadow.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case Enforce, Shadow:
		return Mode(s), nil
	}
	return "", fmt.Errorf("mode %q: want enforce or shadow", s)
}

// Entity names what an alert is about: a record field and its value.
type Entity struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

func (e Entity) String() string { return e.Field + "=" + e.Value }

// Hit is one rule that fired on one record.
type Hit struct {
	Rule     string         `json:"rule"`
	Title    string         `json:"title,omitempty"`
	Severity Severity       `json:"severity"`
	Action   Action         `json:"action"`
	Reason   string         `json:"reason"`
	Entity   *Entity        `json:"entity,omitempty"`
	Details  map[string]any `json:"details,omitempty"`
}

// Decision is the verdict on one record. Hits and ShadowHits are sorted by
// rule name so that the same record under the same bundle always encodes to
// the same bytes (apart from EvalUS).
type Decision struct {
	RecordID       string    `json:"record_id"`
	RecordType     string    `json:"record_type,omitempty"`
	Time           time.Time `json:"ts"`
	Action         Action    `json:"action"`
	Score          int       `json:"score"`
	Hits           []Hit     `json:"hits"`
	ShadowHits     []Hit     `json:"shadow_hits"`
	PolicyRevision string    `json:"policy_revision"`
	RunnerVersion  string    `json:"runner_version"`
	Source         string    `json:"source,omitempty"`
	EvalUS         int64     `json:"eval_us"`

	// What the rules saw, kept only when the runner logs features
	// (--log-features), so that anyone can check what a rule was looking at.
	Features map[string]any     `json:"features,omitempty"`
	Scores   map[string]float64 `json:"scores,omitempty"`
}

// Aggregate folds enforced hits into the action and the score: the strongest
// action asked for (allow when nothing fired) and the capped sum of weights.
func Aggregate(hits []Hit) (Action, int) {
	action, score := Allow, 0
	for _, h := range hits {
		if h.Action.Rank() > action.Rank() {
			action = h.Action
		}
		score += h.Severity.Weight()
	}
	return action, min(score, 100)
}

// MarshalJSON keeps hits and shadow_hits as [] rather than null.
func (d Decision) MarshalJSON() ([]byte, error) {
	type plain Decision
	p := plain(d)
	if p.Hits == nil {
		p.Hits = []Hit{}
	}
	if p.ShadowHits == nil {
		p.ShadowHits = []Hit{}
	}
	return json.Marshal(p)
}
