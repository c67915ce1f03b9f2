package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/decision"
)

// HandlingConfig is what Vigil does with alerts on its own (docs/handling.md):
// escalate those nobody acknowledges, resolve quiet ones, and call action
// endpoints — within a blast-radius guard.
type HandlingConfig struct {
	Interval    time.Duration       `koanf:"interval"` // how often due escalations, quiet alerts and auto-actions are looked for
	Escalation  []EscalationPolicy  `koanf:"escalation"`
	AutoResolve []AutoResolvePolicy `koanf:"auto_resolve"`
	AutoActions AutoActionsConfig   `koanf:"auto_actions"`
}

// AlertMatch selects alerts by severity, rule or tag. Each list given must
// hold the alert's value (for tags: one of the alert's tags); an empty
// AlertMatch selects every alert.
type AlertMatch struct {
	Severity []string `koanf:"severity"` // low, medium, high, critical
	Rules    []string `koanf:"rules"`
	Tags     []string `koanf:"tags"`
}

// Matches reports whether an alert with this severity, rule and tags is selected.
func (m AlertMatch) Matches(severity, rule string, tags []string) bool {
	if len(m.Severity) > 0 && !slices.Contains(m.Severity, severity) {
		return false
	}
	if len(m.Rules) > 0 && !slices.Contains(m.Rules, rule) {
		return false
	}
	if len(m.Tags) > 0 && !slices.ContainsFunc(tags, func(t string) bool { return slices.Contains(m.Tags, t) }) {
		return false
	}
	return true
}

// EscalationPolicy escalates the unacknowledged alerts it matches, level
// after level; the first policy that matches an alert is its policy.
type EscalationPolicy struct {
	Name   string            `koanf:"name"`
	Match  AlertMatch        `koanf:"match"`
	Levels []EscalationLevel `koanf:"levels"`
}

// EscalationLevel tells receivers about an alert still open (not
// acknowledged, resolved or snoozed) After its raise or reopening.
type EscalationLevel struct {
	After     time.Duration `koanf:"after"`     // since the alert was raised or reopened; each level later than the last
	Receivers []string      `koanf:"receivers"` // notify.receivers to tell
	Repeat    time.Duration `koanf:"repeat"`    // tell them again this often until the next level; 0: once
}

// AutoResolvePolicy resolves open alerts it matches that had no hit for
// QuietFor, as actor vigil. Acknowledged and snoozed alerts are people's.
type AutoResolvePolicy struct {
	Name       string        `koanf:"name"`
	Match      AlertMatch    `koanf:"match"`
	QuietFor   time.Duration `koanf:"quiet_for"`
	Resolution string        `koanf:"resolution"` // benign (default), false_positive or duplicate
}

// AutoActionsConfig calls action endpoints (freeze a card, hold an account)
// for new alerts: those of rules whose metadata names an auto_action, and
// those a route matches.
type AutoActionsConfig struct {
	Endpoints   []ActionEndpoint `koanf:"endpoints"`
	Routes      []ActionRoute    `koanf:"routes"`
	Guard       ActionGuard      `koanf:"guard"`
	MaxAttempts int              `koanf:"max_attempts"` // per call, the first included
	BackoffBase time.Duration    `koanf:"backoff_base"` // the first retry's ceiling; doubling up to backoff_max
	BackoffMax  time.Duration    `koanf:"backoff_max"`
}

// ActionEndpoint is where an action is carried out: a signed JSON POST
// (the webhook signature: X-Vigil-Timestamp, X-Vigil-Signature) with an
// Idempotency-Key.
type ActionEndpoint struct {
	Name       string        `koanf:"name"` // what rules and routes call it: freeze_card
	URL        string        `koanf:"url"`
	SecretEnv  string        `koanf:"secret_env"`  // environment variable holding the signing secret
	SecretFile string        `koanf:"secret_file"` //  or a file holding it
	Timeout    time.Duration `koanf:"timeout"`     // per attempt (default 5s)
}

// ActionRoute calls an action for the new alerts it matches.
type ActionRoute struct {
	Match  AlertMatch `koanf:"match"`
	Action string     `koanf:"action"`
}

// ActionGuard is the blast-radius guard: at most Limit auto-actions per rule
// per Interval. The call that would exceed it trips the guard: the rule's
// auto-actions stop, its new alerts are downgraded to review, and Notify's
// receivers are told once.
type ActionGuard struct {
	Limit      int           `koanf:"limit"`
	Interval   time.Duration `koanf:"interval"`
	ResetAfter time.Duration `koanf:"reset_after"` // a tripped guard re-arms after this long; 0: only by hand
	Notify     []string      `koanf:"notify"`      // notify.receivers to tell (on-call)
}

// DefaultActionTimeout bounds one call when an endpoint sets no timeout.
const DefaultActionTimeout = 5 * time.Second

// ActionNamePattern is the shape of an action's name (and of a rule's
// auto_action metadata).
var ActionNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

func (c *Config) validateHandling() error {
	h := &c.Handling
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...))
	}
	if h.Interval <= 0 {
		return bad("handling.interval", "must be a positive duration such as 10s")
	}
	receivers := map[string]bool{}
	for _, r := range c.Notify.Receivers {
		receivers[r.Name] = true
	}
	checkReceivers := func(key string, names []string) error {
		for i, n := range names {
			if !receivers[n] {
				return bad(fmt.Sprintf("%s[%d]", key, i), "unknown receiver %q (notify.receivers has: %s)", n, c.receiverNames())
			}
		}
		return nil
	}
	names := map[string]bool{}
	for i, p := range h.Escalation {
		key := fmt.Sprintf("handling.escalation[%d]", i)
		switch {
		case strings.TrimSpace(p.Name) == "":
			return bad(key+".name", "required")
		case names[p.Name]:
			return bad(key+".name", "%q is used twice", p.Name)
		case len(p.Levels) == 0:
			return bad(key+".levels", "a policy needs at least one level")
		}
		names[p.Name] = true
		if err := p.Match.validate(bad, key+".match"); err != nil {
			return err
		}
		for j, l := range p.Levels {
			lk := fmt.Sprintf("%s.levels[%d]", key, j)
			switch {
			case l.After <= 0:
				return bad(lk+".after", "must be a positive duration such as 15m")
			case j > 0 && l.After <= p.Levels[j-1].After:
				return bad(lk+".after", "%s is not later than the level before (%s)", l.After, p.Levels[j-1].After)
			case len(l.Receivers) == 0:
				return bad(lk+".receivers", "name at least one receiver to tell")
			case l.Repeat < 0:
				return bad(lk+".repeat", "must not be negative")
			case l.Repeat > 0 && l.Repeat < time.Minute:
				return bad(lk+".repeat", "%s is too often (at least 1m)", l.Repeat)
			}
			if err := checkReceivers(lk+".receivers", l.Receivers); err != nil {
				return err
			}
		}
	}
	names = map[string]bool{}
	for i, p := range h.AutoResolve {
		key := fmt.Sprintf("handling.auto_resolve[%d]", i)
		switch {
		case strings.TrimSpace(p.Name) == "":
			return bad(key+".name", "required")
		case names[p.Name]:
			return bad(key+".name", "%q is used twice", p.Name)
		case p.QuietFor <= 0:
			return bad(key+".quiet_for", "must be a positive duration such as 24h")
		}
		switch p.Resolution {
		case "", "benign", "false_positive", "duplicate":
		case "true_positive":
			return bad(key+".resolution", "only a person labels an alert a true positive")
		default:
			return bad(key+".resolution", "%q: want benign, false_positive or duplicate", p.Resolution)
		}
		names[p.Name] = true
		if err := p.Match.validate(bad, key+".match"); err != nil {
			return err
		}
	}
	return c.validateAutoActions(bad, checkReceivers)
}

func (c *Config) validateAutoActions(bad func(string, string, ...any) error, checkReceivers func(string, []string) error) error {
	a := &c.Handling.AutoActions
	endpoints := map[string]bool{}
	for i, e := range a.Endpoints {
		key := fmt.Sprintf("handling.auto_actions.endpoints[%d]", i)
		u, err := url.Parse(e.URL)
		switch {
		case !ActionNamePattern.MatchString(e.Name):
			return bad(key+".name", "%q: want a name such as freeze_card (lower case letters, digits, _ and -)", e.Name)
		case endpoints[e.Name]:
			return bad(key+".name", "%q is used twice", e.Name)
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			return bad(key+".url", "want an absolute http or https URL")
		case u.User != nil:
			return bad(key+".url", "must not carry credentials; sign with secret_env or secret_file")
		case e.SecretEnv != "" && e.SecretFile != "":
			return bad(key+".secret_env", "set secret_env or secret_file, not both")
		case e.Timeout < 0:
			return bad(key+".timeout", "must not be negative")
		}
		endpoints[e.Name] = true
	}
	for i, r := range a.Routes {
		key := fmt.Sprintf("handling.auto_actions.routes[%d]", i)
		if !endpoints[r.Action] {
			return bad(key+".action", "%q is not an endpoint in handling.auto_actions.endpoints", r.Action)
		}
		if err := r.Match.validate(bad, key+".match"); err != nil {
			return err
		}
	}
	g := a.Guard
	switch {
	case g.Limit < 1:
		return bad("handling.auto_actions.guard.limit", "must be at least 1")
	case g.Interval <= 0:
		return bad("handling.auto_actions.guard.interval", "must be a positive duration such as 1m")
	case g.ResetAfter < 0:
		return bad("handling.auto_actions.guard.reset_after", "must not be negative (0: re-arm only by hand)")
	case a.MaxAttempts < 1:
		return bad("handling.auto_actions.max_attempts", "must be at least 1")
	case a.BackoffBase <= 0:
		return bad("handling.auto_actions.backoff_base", "must be a positive duration such as 1s")
	case a.BackoffMax < a.BackoffBase:
		return bad("handling.auto_actions.backoff_max", "%s is below backoff_base %s", a.BackoffMax, a.BackoffBase)
	}
	return checkReceivers("handling.auto_actions.guard.notify", g.Notify)
}

func (m AlertMatch) validate(bad func(string, string, ...any) error, key string) error {
	for i, s := range m.Severity {
		if _, err := decision.ParseSeverity(s); err != nil {
			return bad(fmt.Sprintf("%s.severity[%d]", key, i), "%v", err)
		}
	}
	for i, r := range m.Rules {
		if strings.TrimSpace(r) == "" {
			return bad(fmt.Sprintf("%s.rules[%d]", key, i), "empty rule name")
		}
	}
	for i, t := range m.Tags {
		if strings.TrimSpace(t) == "" {
			return bad(fmt.Sprintf("%s.tags[%d]", key, i), "empty tag")
		}
	}
	return nil
}

func (c *Config) receiverNames() string {
	names := make([]string, len(c.Notify.Receivers))
	for i, r := range c.Notify.Receivers {
		names[i] = r.Name
	}
	return strings.Join(names, ", ")
}
