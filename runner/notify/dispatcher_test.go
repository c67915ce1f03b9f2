package notify_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/inhibit"
	"github.com/vigil-risk/vigil/runner/notify/match"
	"github.com/vigil-risk/vigil/runner/notify/silence"
)

// immediate sends a group's first notification at once.
var immediate = config.RouteConfig{GroupBy: []string{"alertname"}, GroupWait: dur(0)}

func TestRoutingReachesReceivers(t *testing.T) {
	e := newEnv(t)
	names := []string{"default", "pager", "payments", "aml"}
	hooks := map[string]*hook{}
	var recvs []notify.Receiver
	for _, n := range names {
		hooks[n] = newHook(t, e.clk, nil)
		recvs = append(recvs, hooks[n].receiver(n, notify.Limits{}))
	}
	cfg := config.RouteConfig{Receiver: "default", GroupBy: []string{"alertname"}, Routes: []config.RouteConfig{
		{Matchers: []string{`severity="critical"`}, Receiver: "pager", Continue: true},
		{Matchers: []string{`owner=~"payments.*"`}, Receiver: "payments"},
		{Matchers: []string{`tags=~".*,aml,.*"`}, Receiver: "aml"},
	}}
	d := e.dispatcher(recvs, notify.Options{Route: tree(t, cfg, timers, names...), Labels: map[string]string{"env": "prod"}})
	e.hit("card_testing", decision.Critical, decision.Block, "c1") // pager, then payments (continue)
	e.hit("card_testing", decision.High, decision.Block, "c2")     // payments
	e.hit("aml_structuring", decision.Medium, decision.Review, "c3")
	e.hit("big_amount", decision.Medium, decision.Review, "c4") // no owner: the root
	step(t, d)
	e.clk.Advance(timers.GroupWait)
	step(t, d)
	want := map[string][]string{"pager": {"F[c1]"}, "payments": {"F[c1 c2]"}, "aml": {"F[c3]"}, "default": {"F[c4]"}}
	for name, h := range hooks {
		if got := describe(h.Accepted(0)); !slices.Equal(got, want[name]) {
			t.Errorf("%s heard %q, want %q", name, got, want[name])
		}
	}
	// The group is the route's and the rule's.
	if b := hooks["payments"].Accepted(0)[0]; b.Group != `{}/{owner=~"payments.*"}/1:{alertname="card_testing"}` || b.Receiver != "payments" {
		t.Errorf("payments message = %+v", b)
	}
}

func TestSilencedAlertsAreNotNotified(t *testing.T) {
	e := newEnv(t)
	h := newHook(t, e.clk, nil)
	d := e.dispatcher([]notify.Receiver{h.receiver("ops", notify.Limits{})},
		notify.Options{Route: tree(t, config.RouteConfig{GroupBy: []string{"alertname"}}, timers, "ops")})
	ms, _ := match.ParseAll([]string{"entity=c1"})
	if _, err := d.Silences().Create(t.Context(), silence.Silence{Matchers: ms, EndsAt: e.clk.Now().Add(time.Hour),
		CreatedBy: "ana", Comment: "known test card"}); err != nil {
		t.Fatal(err)
	}
	all, _ := match.ParseAll([]string{"alertname=card_testing"})
	later, err := d.Silences().Create(t.Context(), silence.Silence{Matchers: all, StartsAt: e.clk.Now().Add(2 * time.Hour),
		EndsAt: e.clk.Now().Add(3 * time.Hour), CreatedBy: "ana", Comment: "maintenance"})
	if err != nil {
		t.Fatal(err)
	}
	e.raise("c1")
	e.raise("c2")
	step(t, d)
	e.clk.Advance(timers.GroupWait)
	step(t, d)
	if got := describe(h.Accepted(0)); !slices.Equal(got, []string{"F[c2]"}) {
		t.Fatalf("with c1 silenced heard %q", got)
	}
	// The silenced alert is still an alert.
	if a, err := e.svc.Get(t.Context(), e.ids["card_testing/c1"].ID); err != nil || a.Status != "open" {
		t.Errorf("silenced alert = %+v, %v", a, err)
	}
	// The silence expires by itself; at the next tick c1 is news.
	e.clk.Advance(time.Hour)
	step(t, d)
	if got := describe(h.Accepted(1)); !slices.Equal(got, []string{"F[c1 c2]"}) {
		t.Fatalf("after the silence expired heard %q", got)
	}
	// The maintenance silence mutes everything while it runs; expired early,
	// the group is notified again only when something changes or repeats.
	n := len(h.Requests())
	e.clk.Advance(time.Hour)
	e.raise("c3")
	step(t, d)
	e.clk.Advance(5 * time.Minute)
	step(t, d)
	if got := describe(h.Accepted(n)); len(got) != 0 {
		t.Fatalf("during maintenance heard %q", got)
	}
	if _, err := d.Silences().Expire(t.Context(), later.ID, "ana"); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(5 * time.Minute)
	step(t, d)
	if got := describe(h.Accepted(n)); !slices.Equal(got, []string{"F[c1 c2 c3]"}) {
		t.Fatalf("after maintenance heard %q", got)
	}
}

func TestInhibition(t *testing.T) {
	e := newEnv(t)
	h := newHook(t, e.clk, nil)
	rules, err := inhibit.New([]config.InhibitRuleConfig{{SourceMatchers: []string{"action=block"},
		TargetMatchers: []string{"action=review"}, Equal: []string{"entity"}}})
	if err != nil {
		t.Fatal(err)
	}
	d := e.dispatcher([]notify.Receiver{h.receiver("ops", notify.Limits{})}, notify.Options{Inhibit: rules,
		Route: tree(t, config.RouteConfig{GroupBy: []string{"alertname"}}, timers, "ops")})
	e.hit("card_testing", decision.High, decision.Block, "c1")
	e.hit("new_device", decision.Medium, decision.Review, "c1")
	e.hit("new_device", decision.Medium, decision.Review, "c2")
	step(t, d)
	e.clk.Advance(timers.GroupWait)
	step(t, d)
	got := describe(h.Accepted(0))
	slices.Sort(got)
	if want := []string{"F[c1]", "F[c2]"}; !slices.Equal(got, want) {
		t.Fatalf("heard %q, want the block on c1 and the review of c2 only", got)
	}
	if b := h.Accepted(0); len(b[0].Alerts)+len(b[1].Alerts) != 2 {
		t.Fatalf("the review of c1 was sent: %+v", b)
	}
	// The block resolves: the review of c1 is no longer muted.
	n := len(h.Requests())
	e.resolve("card_testing", "c1")
	step(t, d)
	e.clk.Advance(timers.GroupInterval)
	step(t, d)
	got = describe(h.Accepted(n))
	slices.Sort(got)
	if want := []string{"F[] R[c1]", "F[c1 c2]"}; !slices.Equal(got, want) {
		t.Errorf("after the block resolved heard %q, want %q", got, want)
	}
}

func TestRetryThenDeliveredWithOneKey(t *testing.T) {
	e := newEnv(t)
	h := newHook(t, e.clk, func(n int) int { return []int{503, 429, 200}[min(n, 3)-1] })
	d := e.dispatcher([]notify.Receiver{h.receiver("ops", notify.Limits{})}, notify.Options{
		Route: tree(t, immediate, timers, "ops"), Backoff: notify.Backoff{Base: time.Second, Max: time.Minute}})
	e.raise("c1")
	step(t, d)
	ns := list(t, d, notify.Filter{})
	if len(ns) != 1 || ns[0].Status != notify.Pending || ns[0].Attempts != 1 || !strings.Contains(ns[0].LastError, "HTTP 503") {
		t.Fatalf("after a 503: %+v", ns)
	}
	if wait := ns[0].NextAttempt.Sub(e.clk.Now()); wait < 0 || wait > time.Second {
		t.Errorf("first retry in %s, want within [0, base 1s]", wait)
	}
	for range 5 {
		e.clk.Advance(2 * time.Second)
		step(t, d)
	}
	reqs := h.Requests()
	if len(reqs) != 3 {
		t.Fatalf("receiver got %d requests, want 503, 429, 200", len(reqs))
	}
	for i, r := range reqs {
		if r.key != reqs[0].key || r.key == "" {
			t.Errorf("request %d Idempotency-Key = %q, want %q on every attempt", i+1, r.key, reqs[0].key)
		}
	}
	n := list(t, d, notify.Filter{})[0]
	if n.Status != notify.Delivered || n.Attempts != 3 || n.LastError != "" || n.DeliveredAt == nil || n.IdempotencyKey != reqs[0].key {
		t.Errorf("notification = %+v, want delivered after 3 attempts", n)
	}
}

func TestVendorRefusalIsADeadLetter(t *testing.T) {
	e := newEnv(t)
	h := newHook(t, e.clk, func(int) int { return 400 })
	reg := prometheus.NewRegistry()
	var logs logBuffer
	d := e.dispatcher([]notify.Receiver{h.receiver("ops", notify.Limits{})}, notify.Options{
		Route: tree(t, immediate, timers, "ops"), Registerer: reg, Logger: logs.Logger()})
	e.raise("c1")
	e.raise("c2")
	for range 3 {
		step(t, d)
		e.clk.Advance(10 * time.Minute) // group ticks without news: nothing more to say
	}
	if got := len(h.Requests()); got != 1 {
		t.Fatalf("receiver got %d requests, want 1: a refusal is not retried", got)
	}
	failed := list(t, d, notify.Filter{Status: notify.Failed})
	if len(failed) != 1 || failed[0].Alerts != 2 || failed[0].LastError != "hook HTTP 400: Bad Request: details for the sender" {
		t.Fatalf("dead letters = %+v", failed)
	}
	full, err := d.Get(t.Context(), failed[0].ID)
	if err != nil || full.Message == nil || len(full.Message.Alerts) != 2 || full.Message.Receiver != "ops" {
		t.Errorf("Get = %+v, %v", full, err)
	}
	if lines := logs.Lines("notification failed: permanent failure"); len(lines) != 1 || lines[0]["receiver"] != "ops" {
		t.Errorf("failure log lines = %v", lines)
	}
	if got := counter(t, reg, "vigil_notifications_total", "ops", "failed"); got != 1 {
		t.Errorf("vigil_notifications_total{failed} = %v", got)
	}
	if got := counter(t, reg, "vigil_notification_sends_total", "error", "ops"); got != 1 {
		t.Errorf("vigil_notification_sends_total{error} = %v", got)
	}
	if n := histogramCount(t, reg, "vigil_notification_send_duration_seconds", "ops"); n != 1 {
		t.Errorf("send latency observations = %d, want 1", n)
	}
	if pending(t, d) != 0 {
		t.Error("a dead letter still counts as pending")
	}
}

// series finds one series of a metric family by its label values, in the
// order of the label names.
func series(t *testing.T, reg *prometheus.Registry, name string, values ...string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetValue())
			}
			if slices.Equal(got, values) {
				return m
			}
		}
	}
	t.Fatalf("no %s%v", name, values)
	return nil
}

func counter(t *testing.T, reg *prometheus.Registry, name string, values ...string) float64 {
	return series(t, reg, name, values...).GetCounter().GetValue()
}

func histogramCount(t *testing.T, reg *prometheus.Registry, name string, values ...string) uint64 {
	return series(t, reg, name, values...).GetHistogram().GetSampleCount()
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	e := newEnv(t)
	h := newHook(t, e.clk, func(int) int { return 503 })
	var logs logBuffer
	d := e.dispatcher([]notify.Receiver{h.receiver("ops", notify.Limits{})}, notify.Options{Route: tree(t, immediate, timers, "ops"),
		Backoff: notify.Backoff{Base: time.Second, Max: 4 * time.Second, MaxAttempts: 3}, Logger: logs.Logger()})
	e.raise("c1")
	for range 10 {
		step(t, d)
		e.clk.Advance(4 * time.Second)
	}
	n := list(t, d, notify.Filter{})[0]
	if got := len(h.Requests()); got != 3 || n.Status != notify.Failed || n.Attempts != 3 || !strings.Contains(n.LastError, "HTTP 503") {
		t.Errorf("%d requests, notification %+v; want 3 and failed with the last 503", got, n)
	}
	if lines := logs.Lines("out of attempts"); len(lines) != 1 {
		t.Errorf("out-of-attempts log lines = %d, want 1", len(lines))
	}
}

// retryAfterChannel asks for a long wait with its first refusal.
type retryAfterChannel struct{ *hookChannel }

func (c retryAfterChannel) Send(ctx context.Context, p notify.Payload) (bool, error) {
	retry, err := c.hookChannel.Send(ctx, p)
	if err != nil && retry {
		return true, &notify.RetryAfterError{Err: err, After: 10 * time.Minute}
	}
	return retry, err
}

func TestRetryAfterIsHonoured(t *testing.T) {
	e := newEnv(t)
	h := newHook(t, e.clk, func(n int) int { return []int{429, 200}[min(n, 2)-1] })
	r := h.receiver("ding", notify.Limits{})
	r.Channel = retryAfterChannel{r.Channel.(*hookChannel)}
	d := e.dispatcher([]notify.Receiver{r}, notify.Options{Route: tree(t, immediate, timers, "ding")})
	e.raise("c1")
	step(t, d)
	for range 9 {
		e.clk.Advance(time.Minute)
		step(t, d)
	}
	if got := len(h.Requests()); got != 1 {
		t.Fatalf("retried after %d minutes; the vendor asked for 10", len(h.Requests()))
	}
	e.clk.Advance(time.Minute)
	step(t, d)
	if got := describe(h.Accepted(0)); !slices.Equal(got, []string{"F[c1]"}) {
		t.Errorf("after 10 minutes heard %q", got)
	}
}

func TestFallbackTakesOverAFailingReceiver(t *testing.T) {
	e := newEnv(t)
	down := newHook(t, e.clk, func(int) int { return 503 })
	sms := newHook(t, e.clk, nil)
	ding := down.receiver("ding", notify.Limits{})
	ding.Fallback, ding.FallbackAfter = "sms", 10*time.Minute
	var logs logBuffer
	d := e.dispatcher([]notify.Receiver{ding, sms.receiver("sms", notify.Limits{})}, notify.Options{
		Route: tree(t, immediate, timers, "ding"), Logger: logs.Logger(),
		Backoff: notify.Backoff{Base: time.Minute, Max: 3 * time.Minute}})
	e.raise("c1")
	step(t, d)
	for range 9 {
		e.clk.Advance(time.Minute)
		step(t, d)
	}
	if len(sms.Requests()) != 0 || len(down.Requests()) < 2 {
		t.Fatalf("before fallback_after: ding %d requests, sms %d", len(down.Requests()), len(sms.Requests()))
	}
	e.clk.Advance(time.Minute) // ten minutes of failing
	step(t, d)
	if got := describe(sms.Accepted(0)); !slices.Equal(got, []string{"F[c1]"}) {
		t.Fatalf("the fallback heard %q", got)
	}
	orig := list(t, d, notify.Filter{Receiver: "ding"})
	if len(orig) != 1 || orig[0].Status != notify.Rerouted || orig[0].CarriedBy == 0 ||
		!strings.Contains(orig[0].LastError, "HTTP 503") || !strings.Contains(orig[0].LastError, "handed to fallback sms") {
		t.Fatalf("ding's notification = %+v", orig)
	}
	if copy, err := d.Get(t.Context(), orig[0].CarriedBy); err != nil || copy.Receiver != "sms" || copy.Status != notify.Delivered {
		t.Errorf("the fallback's copy = %+v, %v", copy, err)
	}
	if lines := logs.Lines("goes to the fallback"); len(lines) != 1 {
		t.Errorf("fallback log lines = %v", lines)
	}
	// ding still fails: a new message is tried there once, then moves on.
	n := len(down.Requests())
	e.raise("c2")
	step(t, d)
	e.clk.Advance(timers.GroupInterval)
	step(t, d)
	if got := describe(sms.Accepted(1)); !slices.Equal(got, []string{"F[c1 c2]"}) || len(down.Requests()) != n+1 {
		t.Errorf("second message: sms heard %q after %d more tries at ding", got, len(down.Requests())-n)
	}
}

func TestRateLimitSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	h := newHook(t, e.clk, nil)
	limits := notify.Limits{PerMinute: 3}
	groupEach := config.RouteConfig{GroupBy: []string{"..."}, GroupWait: dur(0)}
	d := e.dispatcher([]notify.Receiver{h.receiver("ding", limits)}, notify.Options{Route: tree(t, groupEach, timers, "ding")})
	for _, c := range []string{"c1", "c2", "c3"} {
		e.raise(c)
	}
	step(t, d)
	if got := len(h.Requests()); got != 3 {
		t.Fatalf("sent %d, want 3", got)
	}
	e.restart()
	d = e.dispatcher([]notify.Receiver{h.receiver("ding", limits)}, notify.Options{Route: tree(t, groupEach, timers, "ding")})
	e.raise("c4")
	e.clk.Advance(30 * time.Second)
	step(t, d)
	if got := len(h.Requests()); got != 3 {
		t.Fatalf("after a restart within the minute sent %d more; the limit forgot its sends", got-3)
	}
	e.clk.Advance(30 * time.Second)
	step(t, d)
	if got := describe(h.Accepted(3)); !slices.Equal(got, []string{"F[c4]"}) {
		t.Errorf("a minute later heard %q", got)
	}
}

func TestChangedRoutesReRouteGroups(t *testing.T) {
	e := newEnv(t)
	a, b := newHook(t, e.clk, nil), newHook(t, e.clk, nil)
	recvs := func() []notify.Receiver {
		return []notify.Receiver{a.receiver("a", notify.Limits{}), b.receiver("b", notify.Limits{})}
	}
	d := e.dispatcher(recvs(), notify.Options{Route: tree(t, config.RouteConfig{Receiver: "a", GroupBy: []string{"alertname"}}, timers, "a", "b")})
	e.raise("c1")
	step(t, d) // grouped at a; not yet notified
	var logs logBuffer
	moved := config.RouteConfig{Receiver: "a", GroupBy: []string{"alertname"},
		Routes: []config.RouteConfig{{Matchers: []string{"alertname=card_testing"}, Receiver: "b"}}}
	d = e.dispatcher(recvs(), notify.Options{Route: tree(t, moved, timers, "a", "b"), Logger: logs.Logger()})
	if lines := logs.Lines("routed again"); len(lines) != 1 || lines[0]["groups_removed"] != float64(1) || lines[0]["alerts"] != float64(1) {
		t.Errorf("re-route log = %v", lines)
	}
	e.clk.Advance(timers.GroupWait)
	step(t, d)
	if len(a.Requests()) != 0 || !slices.Equal(describe(b.Accepted(0)), []string{"F[c1]"}) {
		t.Errorf("a heard %d, b heard %q; want the alert at b, where the routes now send it", len(a.Requests()), describe(b.Accepted(0)))
	}
}

func TestRunDeliversOnKick(t *testing.T) {
	e := newEnv(t)
	h := newHook(t, e.clk, nil)
	// An hour's poll: only Kick can make this prompt.
	d := e.dispatcher([]notify.Receiver{h.receiver("ops", notify.Limits{})},
		notify.Options{Route: tree(t, immediate, timers, "ops"), PollInterval: time.Hour, Now: time.Now})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	e.raise("c9")
	d.Kick()
	eventually(t, "the notification", func() bool { return len(h.Accepted(0)) == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	if pending(t, d) != 0 {
		t.Errorf("pending = %d after Run delivered", pending(t, d))
	}
}

// blockingChannel holds each send until released, to test shutdown.
type blockingChannel struct {
	entered, release chan struct{}
}

func (b blockingChannel) Render(m *notify.Message) ([]notify.Payload, error) {
	return []notify.Payload{{Body: []byte(m.GroupKey), Part: 1, Parts: 1, IdempotencyKey: m.IdempotencyKey}}, nil
}
func (b blockingChannel) Limits() notify.Limits { return notify.Limits{} }
func (b blockingChannel) Send(ctx context.Context, _ notify.Payload) (bool, error) {
	b.entered <- struct{}{}
	select {
	case <-b.release:
		return false, nil
	case <-ctx.Done():
		return true, ctx.Err()
	}
}

func TestRunFinishesInFlightSendOnShutdown(t *testing.T) {
	e := newEnv(t)
	b := blockingChannel{entered: make(chan struct{}, 1), release: make(chan struct{})}
	d := e.dispatcher([]notify.Receiver{{Name: "slow", Channel: b, Timeout: time.Minute}}, notify.Options{
		Route:        tree(t, config.RouteConfig{GroupBy: []string{"..."}, GroupWait: dur(0)}, timers, "slow"),
		PollInterval: 10 * time.Millisecond, Now: time.Now})
	e.raise("c1")
	e.raise("c2")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	<-b.entered
	cancel()
	select {
	case <-done:
		t.Fatal("Run returned while a send was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(b.release)
	<-done
	var statuses []notify.Status
	for _, n := range list(t, d, notify.Filter{}) {
		statuses = append(statuses, n.Status)
	}
	// The in-flight one finished and was recorded; the other was not started.
	slices.Sort(statuses)
	if !slices.Equal(statuses, []notify.Status{notify.Delivered, notify.Pending}) {
		t.Errorf("statuses after shutdown = %v, want one delivered, one pending", statuses)
	}
}

func TestListFilters(t *testing.T) {
	e := newEnv(t)
	ok, bad := newHook(t, e.clk, nil), newHook(t, e.clk, func(int) int { return 404 })
	cfg := config.RouteConfig{Receiver: "ok", GroupBy: []string{"..."}, GroupWait: dur(0), Routes: []config.RouteConfig{
		{Matchers: []string{"entity=~c1|c2"}, Receiver: "bad", Continue: true}, {Matchers: []string{"entity!=x"}}}}
	d := e.dispatcher([]notify.Receiver{ok.receiver("ok", notify.Limits{}), bad.receiver("bad", notify.Limits{})},
		notify.Options{Route: tree(t, cfg, timers, "ok", "bad")})
	for _, c := range []string{"c1", "c2", "c3"} {
		e.raise(c)
	}
	step(t, d)
	for _, tc := range []struct {
		name string
		f    notify.Filter
		want int
	}{
		{"all", notify.Filter{}, 5},
		{"delivered", notify.Filter{Status: notify.Delivered}, 3},
		{"failed at bad", notify.Filter{Status: notify.Failed, Receiver: "bad"}, 2},
		{"limit", notify.Filter{Limit: 2}, 2},
		{"before", notify.Filter{Before: 3}, 2},
	} {
		if got := len(list(t, d, tc.f)); got != tc.want {
			t.Errorf("List %s = %d, want %d", tc.name, got, tc.want)
		}
	}
	ns := list(t, d, notify.Filter{})
	if ns[0].ID < ns[1].ID || ns[0].GroupLabels["entity"] == "" {
		t.Errorf("List is not newest first, or lacks group labels: %+v", ns[:2])
	}
	if _, err := d.List(t.Context(), notify.Filter{Status: "sent"}); err == nil || !strings.Contains(err.Error(), `status "sent"`) {
		t.Errorf("List with a bad status: %v", err)
	}
	if _, err := d.Get(t.Context(), 999); !errors.Is(err, notify.ErrNotFound) {
		t.Errorf("Get unknown: %v", err)
	}
}

func TestUnknownReceiverNotificationsWait(t *testing.T) {
	e := newEnv(t)
	down := newHook(t, e.clk, func(int) int { return 503 })
	d := e.dispatcher([]notify.Receiver{down.receiver("old", notify.Limits{})}, notify.Options{Route: tree(t, immediate, timers, "old")})
	e.raise("c1")
	step(t, d)
	var logs logBuffer
	up := newHook(t, e.clk, nil)
	d = e.dispatcher([]notify.Receiver{up.receiver("new", notify.Limits{})},
		notify.Options{Route: tree(t, immediate, timers, "new"), Logger: logs.Logger()})
	if lines := logs.Lines("not configured"); len(lines) != 1 || lines[0]["receiver"] != "old" || lines[0]["pending"] != float64(1) {
		t.Errorf("warning = %v, want one naming receiver old with 1 pending", lines)
	}
	step(t, d)
	if got := list(t, d, notify.Filter{Receiver: "old", Status: notify.Pending}); len(got) != 1 {
		t.Errorf("the old receiver's notification = %v, want it kept pending", got)
	}
}

func TestNewDispatcherRejectsBadInput(t *testing.T) {
	e := newEnv(t)
	ch := &hookChannel{url: "http://127.0.0.1:1"}
	for _, tc := range []struct {
		name      string
		receivers []notify.Receiver
		opts      notify.Options
		want      string
	}{
		{"no name", []notify.Receiver{{Channel: ch}}, notify.Options{}, "receivers[0]: name is required"},
		{"twice", []notify.Receiver{{Name: "a", Channel: ch}, {Name: "a", Channel: ch}}, notify.Options{}, `receivers[1] "a": name used twice`},
		{"nil channel", []notify.Receiver{{Name: "a"}}, notify.Options{}, `receivers[0] "a": channel is nil`},
		{"negative timeout", []notify.Receiver{{Name: "a", Channel: ch, Timeout: -1}}, notify.Options{}, "must not be negative"},
		{"unknown fallback", []notify.Receiver{{Name: "a", Channel: ch, Fallback: "b"}}, notify.Options{}, `receiver "a": fallback "b" is not a configured receiver`},
		{"fallback circle", []notify.Receiver{{Name: "a", Channel: ch, Fallback: "b"}, {Name: "b", Channel: ch, Fallback: "a"}},
			notify.Options{}, "fallbacks go round in a circle: [a b a]"},
		{"route to a receiver not given", []notify.Receiver{{Name: "a", Channel: ch}},
			notify.Options{Route: tree(t, config.RouteConfig{}, timers, "x")}, `receiver "x" is not configured`},
		{"no receivers", nil, notify.Options{}, "no receivers"},
		{"base above max", []notify.Receiver{{Name: "a", Channel: ch}}, notify.Options{Backoff: notify.Backoff{Base: time.Hour, Max: time.Minute}}, "base 1h0m0s is above max 1m0s"},
		{"negative poll", nil, notify.Options{PollInterval: -time.Second}, "must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := notify.NewDispatcher(t.Context(), e.db, tc.receivers, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewDispatcher error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
