// Package inhibit mutes alerts while others fire, as Alertmanager's
// inhibit_rules do: an alert matching a rule's target matchers is not
// notified while an alert matching its source matchers fires with the same
// values of the rule's equal labels (an absent label equals an absent one).
// An alert never inhibits itself: when an alert matches both sides, only
// sources that do not match the target side can mute it.
package inhibit

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/notify/match"
)

// Rule is one inhibit rule.
type Rule struct {
	Source, Target match.Matchers
	Equal          []string
}

// New checks and builds the rules. Errors name the key, such as
// notify.inhibit_rules[0].target_matchers[1], and list every problem.
func New(cfgs []config.InhibitRuleConfig) ([]Rule, error) {
	var errs []error
	rules := make([]Rule, 0, len(cfgs))
	for i, c := range cfgs {
		key := fmt.Sprintf("notify.inhibit_rules[%d]", i)
		var r Rule
		for _, side := range []struct {
			name string
			in   []string
			out  *match.Matchers
		}{{"source_matchers", c.SourceMatchers, &r.Source}, {"target_matchers", c.TargetMatchers, &r.Target}} {
			if len(side.in) == 0 {
				errs = append(errs, fmt.Errorf("config: %s.%s: at least one matcher is required", key, side.name))
			}
			for j, s := range side.in {
				m, err := match.Parse(s)
				if err != nil {
					errs = append(errs, fmt.Errorf("config: %s.%s[%d]: %w", key, side.name, j, err))
					continue
				}
				*side.out = append(*side.out, m)
			}
		}
		for j, name := range c.Equal {
			if _, err := match.New(match.Equal, name, ""); err != nil {
				errs = append(errs, fmt.Errorf("config: %s.equal[%d]: %w", key, j, err))
			}
		}
		r.Equal = c.Equal
		rules = append(rules, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rules, nil
}

// equalKey is the values of the rule's equal labels, as one map key.
func (r *Rule) equalKey(l alert.Labels) string {
	var b strings.Builder
	for _, name := range r.Equal {
		b.WriteString(l[name])
		b.WriteByte(0xff) // cannot occur in valid UTF-8 label values
	}
	return b.String()
}

// sources counts the firing source alerts with one set of equal values.
type sources struct {
	all       int // every source alert
	notTarget int // those that do not also match the target side
}

// Index is the firing alerts that can inhibit, by rule and equal values. It
// is built once per notification pass and is then read-only.
type Index struct {
	rules   []Rule
	sources []map[string]sources // per rule
}

// NewIndex indexes the firing alerts (their label sets) for the rules.
func NewIndex(rules []Rule, firing []alert.Labels) *Index {
	x := &Index{rules: rules, sources: make([]map[string]sources, len(rules))}
	for i := range rules {
		r := &rules[i]
		m := map[string]sources{}
		for _, l := range firing {
			if !r.Source.Matches(l) {
				continue
			}
			k := r.equalKey(l)
			s := m[k]
			s.all++
			if !r.Target.Matches(l) {
				s.notTarget++
			}
			m[k] = s
		}
		x.sources[i] = m
	}
	return x
}

// Mutes reports whether an alert with these labels is inhibited.
func (x *Index) Mutes(l alert.Labels) bool {
	for i := range x.rules {
		r := &x.rules[i]
		if !r.Target.Matches(l) {
			continue
		}
		s, ok := x.sources[i][r.equalKey(l)]
		if !ok {
			continue
		}
		// An alert matching both sides counts among the sources itself (if
		// it fires): only the others that do not match the target may mute it.
		if r.Source.Matches(l) {
			if s.notTarget > 0 {
				return true
			}
			continue
		}
		if s.all > 0 {
			return true
		}
	}
	return false
}

// Rules returns the indexed rules.
func (x *Index) Rules() []Rule { return x.rules }
