package notify_test

import (
	"slices"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/route"
)

// timers are short multiples so that each case reads as Alertmanager's docs:
// group_wait 30s, group_interval 5m, repeat_interval 1h.
var timers = route.Timers{GroupWait: 30 * time.Second, GroupInterval: 5 * time.Minute, RepeatInterval: time.Hour}

// Each step raises and resolves card_testing alerts (by card), routes them,
// moves the clock, then lets the due groups flush and the receiver hear
// them; want is what the receiver heard in that step.
type timerStep struct {
	raise, resolve []string
	advance        time.Duration
	want           []string // describe() of the messages heard
}

func TestGroupTimers(t *testing.T) {
	for _, tc := range []struct {
		name         string
		sendResolved bool
		steps        []timerStep
	}{
		{"group_wait collects a group's first alerts into one notification", true, []timerStep{
			{raise: []string{"c1"}, advance: 10 * time.Second},
			{raise: []string{"c2"}, advance: 19 * time.Second},
			{advance: time.Second, want: []string{"F[c1 c2]"}},
		}},
		{"a new alert in a notified group waits group_interval", true, []timerStep{
			{raise: []string{"c1"}, advance: 30 * time.Second, want: []string{"F[c1]"}},
			{raise: []string{"c2"}, advance: time.Minute},
			{advance: 3 * time.Minute},
			{advance: time.Minute, want: []string{"F[c1 c2]"}},
		}},
		{"an unchanged group is not notified again before repeat_interval", true, []timerStep{
			{raise: []string{"c1"}, advance: 30 * time.Second, want: []string{"F[c1]"}},
			{advance: 5 * time.Minute},
			{advance: 50 * time.Minute},
			{raise: []string{"c1"}, advance: 4 * time.Minute}, // a repeat hit changes nothing
			{advance: time.Minute, want: []string{"F[c1]"}},   // an hour after the first
			{advance: 5 * time.Minute},
		}},
		{"resolved alerts are notified to a receiver that wants them", true, []timerStep{
			{raise: []string{"c1", "c2"}, advance: 30 * time.Second, want: []string{"F[c1 c2]"}},
			{resolve: []string{"c1"}, advance: 5 * time.Minute, want: []string{"F[c2] R[c1]"}},
			{resolve: []string{"c2"}, advance: 5 * time.Minute, want: []string{"F[] R[c2]"}},
			{advance: 2 * time.Hour}, // the empty group is gone
		}},
		{"resolved alerts are not notified to a receiver that does not want them", false, []timerStep{
			{raise: []string{"c1", "c2"}, advance: 30 * time.Second, want: []string{"F[c1 c2]"}},
			{resolve: []string{"c1"}, advance: 5 * time.Minute},
			{resolve: []string{"c2"}, advance: 5 * time.Minute},
			{advance: 2 * time.Hour},
		}},
		{"an alert raised and resolved within group_wait is never notified", true, []timerStep{
			{raise: []string{"c1"}, advance: 10 * time.Second},
			{resolve: []string{"c1"}, advance: 20 * time.Second},
			{advance: time.Hour},
		}},
		{"a new alert of the same card after resolution is notified again", true, []timerStep{
			{raise: []string{"c1"}, advance: 30 * time.Second, want: []string{"F[c1]"}},
			{resolve: []string{"c1"}, advance: 5 * time.Minute, want: []string{"F[] R[c1]"}},
			{raise: []string{"c1"}, advance: 30 * time.Second, want: []string{"F[c1]"}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			h := newHook(t, e.clk, nil)
			r := h.receiver("ops", notify.Limits{})
			r.SendResolved = tc.sendResolved
			d := e.dispatcher([]notify.Receiver{r}, notify.Options{
				Route: tree(t, config.RouteConfig{GroupBy: []string{"alertname"}}, timers, "ops")})
			heard := 0
			for i, s := range tc.steps {
				for _, c := range s.raise {
					e.raise(c)
				}
				for _, c := range s.resolve {
					e.resolve("card_testing", c)
				}
				step(t, d) // routes the events; nothing is due yet
				e.clk.Advance(s.advance)
				step(t, d)
				got := describe(h.Accepted(heard))
				heard = len(h.Requests())
				if !slices.Equal(got, s.want) {
					t.Fatalf("step %d: receiver heard %q, want %q", i+1, got, s.want)
				}
			}
		})
	}
}

// Groups follow group_by: one per rule by default, one per alert with "...",
// one for everything with an empty list.
func TestGroupBy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		groupBy []string
		want    []string
	}{
		{"by rule", []string{"alertname"}, []string{"F[c1 c2]", "F[c1]"}},
		{"by every label", []string{"..."}, []string{"F[c1]", "F[c2]", "F[c1]"}},
		{"all together", []string{}, []string{"F[c1 c2 c1]"}},
		{"by entity", []string{"entity"}, []string{"F[c1 c1]", "F[c2]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			h := newHook(t, e.clk, nil)
			d := e.dispatcher([]notify.Receiver{h.receiver("ops", notify.Limits{})}, notify.Options{
				Route: tree(t, config.RouteConfig{GroupBy: tc.groupBy}, timers, "ops")})
			e.raise("c1")
			e.raise("c2")
			e.hit("aml_structuring", "medium", "review", "c1")
			step(t, d)
			e.clk.Advance(timers.GroupWait)
			step(t, d)
			got := describe(h.Accepted(0))
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("heard %q, want %q", got, want)
			}
		})
	}
}
