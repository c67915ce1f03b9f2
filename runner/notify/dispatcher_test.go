package notify_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/logchan"
	"github.com/vigil-risk/vigil/runner/notify/webhook"
)

const secret = "whsec-test"

// deliverUntilSettled alternates Deliver with moving the clock past the
// longest backoff, until nothing is pending (or it gives up).
func deliverUntilSettled(t *testing.T, e *env, d *notify.Dispatcher, step time.Duration) {
	t.Helper()
	for range 20 {
		if _, err := d.Deliver(t.Context()); err != nil {
			t.Fatalf("Deliver: %v", err)
		}
		if pending(t, d) == 0 {
			return
		}
		e.clk.Advance(step)
	}
	t.Fatalf("still %d pending", pending(t, d))
}

func TestWebhookRetriesUntilDeliveredExactlyOnce(t *testing.T) {
	e := newEnv(t)
	// 500, then a hang past the 200ms timeout, then accepted.
	h := newHook(t, func(n int) int { return []int{500, 0, 200, 200}[min(n, 4)-1] })
	var logs logBuffer
	d := e.dispatcher([]notify.Receiver{h.receiver(t, "ops", secret, 200*time.Millisecond)},
		notify.Options{Backoff: notify.Backoff{Base: time.Second, Max: time.Minute}, Logger: logs.Logger()})
	a := e.raise("c1")
	if n, err := d.FanOut(t.Context()); err != nil || n != 1 {
		t.Fatalf("FanOut = %d, %v; want 1", n, err)
	}

	// The first attempt fails, and the retry waits for its backoff.
	if n, err := d.Deliver(t.Context()); err != nil || n != 1 {
		t.Fatalf("first Deliver = %d, %v", n, err)
	}
	ns := list(t, d, notify.Filter{})
	if ns[0].Status != notify.Pending || ns[0].Attempts != 1 || !strings.Contains(ns[0].LastError, "HTTP 500") {
		t.Fatalf("after a 500: %+v", ns[0])
	}
	if wait := ns[0].NextAttempt.Sub(e.clk.Now()); wait < 0 || wait > time.Second {
		t.Errorf("first retry in %s, want within [0, base 1s]", wait)
	}
	if strings.Contains(ns[0].LastError, "s3cret") {
		t.Errorf("last error leaks the URL's query: %s", ns[0].LastError)
	}
	if n, _ := d.Deliver(t.Context()); n != 0 && ns[0].NextAttempt.After(e.clk.Now()) {
		t.Errorf("Deliver sent %d before the retry was due", n)
	}

	deliverUntilSettled(t, e, d, time.Minute)
	// Further passes send nothing: delivered means done.
	e.clk.Advance(time.Hour)
	if n, _ := d.Deliver(t.Context()); n != 0 {
		t.Errorf("Deliver after delivery sent %d more", n)
	}

	reqs := h.Requests()
	var statuses []int
	for _, r := range reqs {
		statuses = append(statuses, r.status)
	}
	if !slices.Equal(statuses, []int{500, 0, 200}) {
		t.Fatalf("receiver saw %v, want [500 hang 200]", statuses)
	}
	key := reqs[0].header.Get("Idempotency-Key")
	for i, r := range reqs {
		if got := r.header.Get("Idempotency-Key"); got == "" || got != key {
			t.Errorf("request %d Idempotency-Key = %q, want %q on every attempt", i+1, got, key)
		}
		if err := webhook.Verify(secret, r.header.Get(webhook.TimestampHeader), r.header.Get(webhook.SignatureHeader),
			r.body, e.clk.Now(), 0); err != nil {
			t.Errorf("request %d signature: %v", i+1, err)
		}
	}
	p := reqs[2].payload
	if p.Kind != notify.Firing || p.ID != a.ID || p.Rule != "card_testing" || p.Entity.Value != "c1" || p.Status != alert.Open ||
		p.Link != "https://vigil.example.com/alerts/1" || p.Receiver != "ops" || p.PolicyRevision != "rev-7" {
		t.Errorf("payload = %+v", p)
	}

	n := list(t, d, notify.Filter{})[0]
	if n.Status != notify.Delivered || n.Attempts != 3 || n.LastError != "" || n.DeliveredAt == nil || n.IdempotencyKey != key {
		t.Errorf("notification = %+v, want delivered after 3 attempts", n)
	}
	if lines := logs.Lines("notification failed"); len(lines) != 0 {
		t.Errorf("failure logged for a delivered notification: %v", lines)
	}
}

func TestWebhook4xxIsNotRetried(t *testing.T) {
	e := newEnv(t)
	h := newHook(t, func(int) int { return 400 })
	var logs logBuffer
	d := e.dispatcher([]notify.Receiver{h.receiver(t, "ops", "", time.Second)}, notify.Options{Logger: logs.Logger()})
	e.raise("c1")
	d.FanOut(t.Context())
	for range 3 {
		d.Deliver(t.Context())
		e.clk.Advance(time.Hour)
	}
	if got := len(h.Requests()); got != 1 {
		t.Fatalf("receiver got %d requests, want 1", got)
	}
	n := list(t, d, notify.Filter{})[0]
	if n.Status != notify.Failed || n.Attempts != 1 ||
		!strings.Contains(n.LastError, "HTTP 400 Bad Request: Bad Request: details for the sender") {
		t.Errorf("notification = %+v, want failed naming the status and body", n)
	}
	lines := logs.Lines("notification failed")
	if len(lines) != 1 || lines[0]["receiver"] != "ops" || !strings.Contains(lines[0]["msg"].(string), "permanent") {
		t.Errorf("failure log lines = %v, want one", lines)
	}
	if pending(t, d) != 0 {
		t.Error("failed notification still counts as pending")
	}
	if h.Requests()[0].header.Get(webhook.SignatureHeader) != "" {
		t.Error("unsigned receiver sent a signature")
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	e := newEnv(t)
	h := newHook(t, func(int) int { return 503 })
	var logs logBuffer
	d := e.dispatcher([]notify.Receiver{h.receiver(t, "ops", "", time.Second)},
		notify.Options{Backoff: notify.Backoff{Base: time.Second, Max: 4 * time.Second, MaxAttempts: 3}, Logger: logs.Logger()})
	e.raise("c1")
	d.FanOut(t.Context())
	for range 10 {
		d.Deliver(t.Context())
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

func TestResolvedWaitsForFiring(t *testing.T) {
	e := newEnv(t)
	h := newHook(t, func(n int) int { return []int{503, 200, 200}[min(n, 3)-1] })
	d := e.dispatcher([]notify.Receiver{h.receiver(t, "ops", "", time.Second)}, notify.Options{})
	a := e.raise("c1")
	e.resolve(a.ID)
	if n, _ := d.FanOut(t.Context()); n != 2 {
		t.Fatalf("FanOut = %d, want firing + resolved", n)
	}
	deliverUntilSettled(t, e, d, 5*time.Minute)
	var got []string
	for _, r := range h.Requests() {
		got = append(got, string(r.payload.Kind)+"/"+string(r.payload.Status))
	}
	if want := []string{"firing/open", "firing/open", "resolved/resolved"}; !slices.Equal(got, want) {
		t.Errorf("receiver saw %v, want %v (resolved held back until firing got through)", got, want)
	}
}

func TestPendingSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	down := newHook(t, func(int) int { return 502 })
	e.raise("c1")
	e.raise("c2")
	d1 := e.dispatcher([]notify.Receiver{down.receiver(t, "ops", secret, time.Second)}, notify.Options{})
	d1.FanOut(t.Context())
	d1.Deliver(t.Context())
	if got := pending(t, d1); got != 2 {
		t.Fatalf("pending before restart = %d, want 2", got)
	}

	e.restart()
	up := newHook(t, func(int) int { return 200 })
	d2 := e.dispatcher([]notify.Receiver{up.receiver(t, "ops", secret, time.Second)},
		notify.Options{PollInterval: 10 * time.Millisecond, Backoff: notify.Backoff{Base: time.Millisecond, Max: time.Millisecond}, Now: time.Now})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- d2.Run(ctx) }()
	eventually(t, "delivery after restart", func() bool { return pending(t, d2) == 0 })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	var cards []string
	for _, r := range up.Requests() {
		cards = append(cards, r.payload.Entity.Value)
	}
	slices.Sort(cards)
	if !slices.Equal(cards, []string{"c1", "c2"}) {
		t.Errorf("delivered after restart: %v, want c1 and c2 once each", cards)
	}
	for _, n := range list(t, d2, notify.Filter{}) {
		if n.Status != notify.Delivered || n.Attempts != 2 {
			t.Errorf("notification %d: %s after %d attempts, want delivered after 2", n.ID, n.Status, n.Attempts)
		}
	}
}

func TestFanOutIsNotRepeated(t *testing.T) {
	e := newEnv(t)
	receivers := func() []notify.Receiver {
		return []notify.Receiver{{Name: "a", Notifier: logchan.New(nil)}, {Name: "b", Notifier: logchan.New(nil)}}
	}
	for _, card := range []string{"c1", "c2", "c3"} {
		e.raise(card)
	}
	e.raise("c1")                                            // a repeat: no notification
	d := e.dispatcher(receivers(), notify.Options{Batch: 2}) // several batches
	if n, err := d.FanOut(t.Context()); err != nil || n != 6 {
		t.Fatalf("FanOut = %d, %v; want 3 alerts × 2 receivers", n, err)
	}
	if n, _ := d.FanOut(t.Context()); n != 0 {
		t.Errorf("second FanOut = %d, want 0", n)
	}

	e.restart()
	d = e.dispatcher(receivers(), notify.Options{})
	if n, _ := d.FanOut(t.Context()); n != 0 {
		t.Errorf("FanOut after restart = %d, want 0", n)
	}
	// Even with the cursor lost, the outbox refuses a second copy.
	if _, err := e.db.Exec(`DELETE FROM notify_cursor`); err != nil {
		t.Fatal(err)
	}
	if n, err := d.FanOut(t.Context()); err != nil || n != 0 {
		t.Errorf("FanOut from a lost cursor = %d, %v; want 0", n, err)
	}
	e.raise("c4")
	if n, _ := d.FanOut(t.Context()); n != 2 {
		t.Errorf("FanOut of a new alert = %d, want 2", n)
	}
	if got := len(list(t, d, notify.Filter{})); got != 8 {
		t.Errorf("notifications = %d, want 8", got)
	}
	keys := map[string]bool{}
	for _, n := range list(t, d, notify.Filter{}) {
		keys[n.IdempotencyKey] = true
	}
	if len(keys) != 8 {
		t.Errorf("idempotency keys = %d distinct, want 8 (one per event and receiver)", len(keys))
	}
}

func TestRunDeliversOnKickAndLogs(t *testing.T) {
	e := newEnv(t)
	var logs logBuffer
	// An hour's poll: only Kick can make this prompt.
	d := e.dispatcher([]notify.Receiver{{Name: "team-log", Notifier: logchan.New(logs.Logger())}},
		notify.Options{PollInterval: time.Hour, Now: time.Now})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()

	a := e.raise("c9")
	d.Kick()
	eventually(t, "the firing log line", func() bool { return len(logs.Lines("alert firing")) == 1 })
	e.resolve(a.ID)
	d.Kick()
	eventually(t, "the resolved log line", func() bool { return len(logs.Lines("alert resolved")) == 1 })
	cancel()
	<-done

	line := logs.Lines("alert firing")[0]
	for k, want := range map[string]any{"level": "WARN", "receiver": "team-log", "kind": "firing", "alert": float64(a.ID),
		"rule": "card_testing", "entity": "card_id=c9", "severity": "high", "reason": "6 small auths in 1m"} {
		if line[k] != want {
			t.Errorf("log line %s = %v, want %v", k, line[k], want)
		}
	}
	if pending(t, d) != 0 {
		t.Errorf("pending = %d after Run delivered", pending(t, d))
	}
}

// blockingNotifier holds each send until released, to test shutdown.
type blockingNotifier struct {
	entered, release chan struct{}
}

func (b blockingNotifier) Notify(ctx context.Context, _ *notify.Notification) (bool, error) {
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
	b := blockingNotifier{entered: make(chan struct{}, 1), release: make(chan struct{})}
	d := e.dispatcher([]notify.Receiver{{Name: "slow", Notifier: b, Timeout: time.Minute}},
		notify.Options{PollInterval: 10 * time.Millisecond, Now: time.Now})
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

func TestListAndPending(t *testing.T) {
	e := newEnv(t)
	ok := newHook(t, func(int) int { return 200 })
	bad := newHook(t, func(int) int { return 404 })
	d := e.dispatcher([]notify.Receiver{ok.receiver(t, "ok", "", time.Second), bad.receiver(t, "bad", "", time.Second)}, notify.Options{})
	a1 := e.raise("c1")
	e.raise("c2")
	d.FanOut(t.Context())
	if got := pending(t, d); got != 4 {
		t.Fatalf("pending = %d, want 4", got)
	}
	d.Deliver(t.Context())
	for _, tc := range []struct {
		name string
		f    notify.Filter
		want int
	}{
		{"all", notify.Filter{}, 4},
		{"delivered", notify.Filter{Status: notify.Delivered}, 2},
		{"failed at bad", notify.Filter{Status: notify.Failed, Receiver: "bad"}, 2},
		{"one alert", notify.Filter{AlertID: a1.ID}, 2},
		{"limit", notify.Filter{Limit: 3}, 3},
		{"before", notify.Filter{Before: 3}, 2},
	} {
		if got := len(list(t, d, tc.f)); got != tc.want {
			t.Errorf("List %s = %d, want %d", tc.name, got, tc.want)
		}
	}
	ns := list(t, d, notify.Filter{})
	if ns[0].ID < ns[1].ID {
		t.Error("List is not newest first")
	}
	if _, err := d.List(t.Context(), notify.Filter{Status: "sent"}); err == nil || !strings.Contains(err.Error(), `status "sent"`) {
		t.Errorf("List with a bad status: %v", err)
	}
}

func TestUnknownReceiverNotificationsWait(t *testing.T) {
	e := newEnv(t)
	d := e.dispatcher([]notify.Receiver{{Name: "old", Notifier: logchan.New(nil)}}, notify.Options{})
	e.raise("c1")
	d.FanOut(t.Context())
	var logs logBuffer
	d = e.dispatcher([]notify.Receiver{{Name: "new", Notifier: logchan.New(nil)}}, notify.Options{Logger: logs.Logger()})
	if lines := logs.Lines("not configured"); len(lines) != 1 || lines[0]["receiver"] != "old" || lines[0]["pending"] != float64(1) {
		t.Errorf("warning = %v, want one naming receiver old with 1 pending", lines)
	}
	d.Deliver(t.Context())
	if got := pending(t, d); got != 1 {
		t.Errorf("pending = %d, want the old receiver's 1 kept", got)
	}
}

func TestNewDispatcherRejectsBadInput(t *testing.T) {
	e := newEnv(t)
	n := logchan.New(nil)
	for _, tc := range []struct {
		name      string
		receivers []notify.Receiver
		opts      notify.Options
		want      string
	}{
		{"no name", []notify.Receiver{{Notifier: n}}, notify.Options{}, "receivers[0]: name is required"},
		{"twice", []notify.Receiver{{Name: "a", Notifier: n}, {Name: "a", Notifier: n}}, notify.Options{}, `receivers[1] "a": name used twice`},
		{"nil notifier", []notify.Receiver{{Name: "a"}}, notify.Options{}, `receivers[0] "a": notifier is nil`},
		{"negative timeout", []notify.Receiver{{Name: "a", Notifier: n, Timeout: -1}}, notify.Options{}, "timeout -1ns is negative"},
		{"base above max", nil, notify.Options{Backoff: notify.Backoff{Base: time.Hour, Max: time.Minute}}, "base 1h0m0s is above max 1m0s"},
		{"negative poll", nil, notify.Options{PollInterval: -time.Second}, "must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := notify.NewDispatcher(t.Context(), e.db, tc.receivers, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewDispatcher error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	if _, err := notify.NewDispatcher(t.Context(), nil, nil, notify.Options{}); err == nil {
		t.Error("NewDispatcher(nil db) succeeded")
	}
}

// A notification whose snapshot cannot be read fails instead of blocking the queue.
func TestCorruptSnapshotFailsAlone(t *testing.T) {
	e := newEnv(t)
	ok := newHook(t, func(int) int { return 200 })
	d := e.dispatcher([]notify.Receiver{ok.receiver(t, "ok", "", time.Second)}, notify.Options{})
	e.raise("c1")
	e.raise("c2")
	d.FanOut(t.Context())
	if _, err := e.db.Exec(`UPDATE notifications SET alert = 'not json' WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Deliver(t.Context()); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	ns := list(t, d, notify.Filter{})
	if ns[1].Status != notify.Failed || !strings.Contains(ns[1].LastError, "alert snapshot") || ns[0].Status != notify.Delivered {
		t.Errorf("notifications = %+v", ns)
	}
	if len(ok.Requests()) != 1 {
		t.Errorf("receiver got %d requests, want 1", len(ok.Requests()))
	}
}
