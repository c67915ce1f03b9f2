// Package route is the routing tree, with Prometheus Alertmanager's
// semantics: an alert enters at the root, descends depth-first into the
// first child whose matchers match — and on into later siblings too when
// that child has continue — and is notified by the deepest routes it
// reached; a route none of whose children match is itself a match. Each
// route inherits its parent's receiver, group_by and timers unless it sets
// its own.
package route

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/notify/match"
)

// GroupByAll is the group_by entry that groups by every label.
const GroupByAll = "..."

// Opts is how a route notifies the alerts it takes.
type Opts struct {
	Receiver       string
	GroupBy        []string // sorted label names; empty with GroupByAll false: one group for the route
	GroupByAll     bool     // group_by: ["..."]: every distinct label set is its own group
	GroupWait      time.Duration
	GroupInterval  time.Duration
	RepeatInterval time.Duration
}

// Route is one node of the tree. Build the tree with New.
type Route struct {
	Opts
	Matchers match.Matchers
	Continue bool
	Routes   []*Route

	parent *Route
	id     string // Alertmanager's route ID: the matchers path and the position
	key    string // id plus what decides a group's identity: receiver, group_by
}

// Timers are the root's defaults, from notify.group_wait, group_interval and
// repeat_interval.
type Timers struct {
	GroupWait, GroupInterval, RepeatInterval time.Duration
}

// New builds and checks the tree. Errors name the config key, e.g.
// notify.route.routes[1].matchers[0], and list every problem.
func New(cfg config.RouteConfig, defaults Timers, receivers []string) (*Route, error) {
	b := builder{receivers: receivers}
	if cfg.Receiver == "" && len(receivers) > 0 {
		cfg.Receiver = receivers[0]
	}
	if len(cfg.Matchers) > 0 {
		b.fail("notify.route.matchers", "the root route matches every alert and must not have matchers")
	}
	if cfg.Continue {
		b.fail("notify.route.continue", "the root route has no siblings to continue to")
	}
	root := &Route{Opts: Opts{
		GroupWait: defaults.GroupWait, GroupInterval: defaults.GroupInterval, RepeatInterval: defaults.RepeatInterval,
	}}
	b.build(root, cfg, "notify.route", 0)
	if err := errors.Join(b.errs...); err != nil {
		return nil, err
	}
	return root, nil
}

type builder struct {
	receivers []string
	errs      []error
}

func (b *builder) fail(key, format string, args ...any) {
	b.errs = append(b.errs, fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...)))
}

// build fills r (whose Opts hold the parent's) from cfg.
func (b *builder) build(r *Route, cfg config.RouteConfig, key string, pos int) {
	switch {
	case cfg.Receiver != "" && !slices.Contains(b.receivers, cfg.Receiver):
		b.fail(key+".receiver", "unknown receiver %q (notify.receivers has: %s)", cfg.Receiver, strings.Join(b.receivers, ", "))
	case cfg.Receiver != "":
		r.Receiver = cfg.Receiver
	case r.parent == nil:
		b.fail("notify.receivers", "no receiver is configured for the root route")
	}
	for i, s := range cfg.Matchers {
		m, err := match.Parse(s)
		if err != nil {
			b.fail(fmt.Sprintf("%s.matchers[%d]", key, i), "%v", err)
			continue
		}
		r.Matchers = append(r.Matchers, m)
	}
	r.Continue = cfg.Continue
	if cfg.GroupBy != nil {
		r.GroupBy, r.GroupByAll = nil, false
		for i, name := range cfg.GroupBy {
			switch {
			case name == GroupByAll && len(cfg.GroupBy) > 1:
				b.fail(fmt.Sprintf("%s.group_by[%d]", key, i), `"..." groups by every label and cannot be combined with other labels`)
			case name == GroupByAll:
				r.GroupByAll = true
			case !validLabelName(name):
				b.fail(fmt.Sprintf("%s.group_by[%d]", key, i), "%q is not a label name (letters, digits and '_', not starting with a digit)", name)
			default:
				r.GroupBy = append(r.GroupBy, name)
			}
		}
		slices.Sort(r.GroupBy)
		r.GroupBy = slices.Compact(r.GroupBy)
	}
	for _, t := range []struct {
		name string
		set  *time.Duration
		dst  *time.Duration
		zero bool // whether 0 is allowed
	}{
		{"group_wait", cfg.GroupWait, &r.GroupWait, true},
		{"group_interval", cfg.GroupInterval, &r.GroupInterval, false},
		{"repeat_interval", cfg.RepeatInterval, &r.RepeatInterval, false},
	} {
		where := key + "." + t.name
		switch {
		case t.set != nil:
			*t.dst = *t.set
		case r.parent == nil:
			where = "notify." + t.name // the root's default
		default:
			continue // inherited, and checked where it was set
		}
		switch {
		case *t.dst < 0:
			b.fail(where, "%s must not be negative", *t.dst)
		case *t.dst == 0 && !t.zero:
			b.fail(where, "must be a positive duration such as 5m")
		}
	}

	if r.parent == nil {
		r.id = r.Matchers.String()
	} else {
		r.id = r.parent.id + "/" + r.Matchers.String() + "/" + strconv.Itoa(pos)
	}
	sum := sha256.Sum256([]byte(r.id + "\x00" + r.Receiver + "\x00" + strings.Join(r.GroupBy, ",") + "\x00" + strconv.FormatBool(r.GroupByAll)))
	r.key = r.id + "#" + hex.EncodeToString(sum[:6])

	for i, child := range cfg.Routes {
		c := &Route{Opts: r.Opts, parent: r}
		c.GroupBy = slices.Clone(r.GroupBy)
		b.build(c, child, fmt.Sprintf("%s.routes[%d]", key, i), i)
		r.Routes = append(r.Routes, c)
	}
}

func validLabelName(s string) bool {
	_, err := match.New(match.Equal, s, "")
	return err == nil
}

// Match returns the routes that take an alert with these labels, in tree
// order (depth first, left to right); nil if the route itself does not match.
func (r *Route) Match(l alert.Labels) []*Route {
	if !r.Matchers.Matches(l) {
		return nil
	}
	var all []*Route
	for _, c := range r.Routes {
		m := c.Match(l)
		all = append(all, m...)
		if m != nil && !c.Continue {
			break
		}
	}
	if len(all) == 0 {
		all = append(all, r)
	}
	return all
}

// ID identifies the route as Alertmanager does: the matchers of the path from
// the root, and the position among its siblings.
func (r *Route) ID() string { return r.id }

// Key is ID plus a digest of what decides a group's receiver and identity
// (receiver, group_by): a group stored under a key the tree no longer has
// is re-routed at start.
func (r *Route) Key() string { return r.key }

// GroupLabels returns the labels an alert is grouped by on this route.
func (r *Route) GroupLabels(l alert.Labels) alert.Labels {
	if r.GroupByAll {
		out := make(alert.Labels, len(l))
		for k, v := range l {
			if v != "" {
				out[k] = v
			}
		}
		return out
	}
	out := make(alert.Labels, len(r.GroupBy))
	for _, name := range r.GroupBy {
		if v := l[name]; v != "" {
			out[name] = v
		}
	}
	return out
}

// GroupKey identifies the group an alert with these labels joins on this
// route: the route ID and the group labels.
func (r *Route) GroupKey(l alert.Labels) (string, alert.Labels) {
	g := r.GroupLabels(l)
	return r.id + ":" + g.String(), g
}

// Walk visits the route and its descendants, depth first.
func (r *Route) Walk(visit func(*Route)) {
	visit(r)
	for _, c := range r.Routes {
		c.Walk(visit)
	}
}

// Receivers returns the receivers of the routes that take an alert with
// these labels, in order, each once.
func (r *Route) Receivers(l alert.Labels) []string {
	var out []string
	for _, m := range r.Match(l) {
		if !slices.Contains(out, m.Receiver) {
			out = append(out, m.Receiver)
		}
	}
	return out
}
