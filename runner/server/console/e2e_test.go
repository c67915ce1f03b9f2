package console_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vigil-risk/vigil/runner/alert"
)

// chrome starts a headless Chromium with its own profile, or skips the
// test when there is none.
func chrome(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install -y chromium): skipping the browser test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser, for as long as ctx lives
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// do runs browser steps, failing the test with what was being done.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		t.Fatalf("%s: %v\npage: %s", what, err, body)
	}
}

// get runs one browser action that returns a value.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return strings.TrimSpace(get(t, ctx, "reading "+sel, chromedp.Text(chromedp.CSS(sel))))
}

func evalInt(t *testing.T, ctx context.Context, js string) int {
	t.Helper()
	return get(t, ctx, js, chromedp.Evaluate[int](js))
}

func login(t *testing.T, ctx context.Context, base, token string) {
	t.Helper()
	do(t, ctx, "logging in",
		chromedp.Navigate(base+"/console/alerts"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS("#filters")))
}

// TestConsoleInChromium drives the console in a real browser: an analyst
// logs in, filters the queue, opens an alert, acknowledges it, resolves it
// as a false positive and sees the audit timeline; the keyboard
// acknowledges another; a viewer sees no actions and is refused a POST.
func TestConsoleInChromium(t *testing.T) {
	s := newStack(t)
	s.decide(t, blockedCard)
	s.decide(t, otherBlockedCard)
	as, err := s.alerts.List(t.Context(), alert.Filter{Limit: 10})
	if err != nil || len(as) != 2 {
		t.Fatalf("alerts: %v %v", as, err)
	}
	target, other := as[1], as[0] // the older one is second in the queue

	ctx := chrome(t)
	login(t, ctx, s.url, analystToken)
	if got := evalInt(t, ctx, `document.querySelectorAll("tr.alert-row").length`); got != 2 {
		t.Fatalf("queue: %d rows, want 2", got)
	}
	if who := textOf(t, ctx, "#user"); !strings.Contains(who, "ana") || !strings.Contains(who, "analyst") {
		t.Errorf("logged in as %q", who)
	}

	// Filter by the entity: one row, the target.
	do(t, ctx, "filtering",
		chromedp.SetValue(chromedp.CSS("#f-entity"), target.Entity.Value),
		chromedp.Click(chromedp.CSS("#filter")),
		chromedp.WaitVisible(chromedp.CSS("#queue")))
	if got := evalInt(t, ctx, `document.querySelectorAll("tr.alert-row").length`); got != 1 {
		t.Fatalf("filtered queue: %d rows, want 1", got)
	}
	if row := get(t, ctx, "reading the row", chromedp.AttributeValue(chromedp.CSS("tr.alert-row"), "data-id")); row.Value != fmt.Sprint(target.ID) {
		t.Fatalf("filtered row is alert %s, want %d", row.Value, target.ID)
	}

	// Open it, acknowledge, resolve as a false positive.
	do(t, ctx, "opening the alert",
		chromedp.Click(chromedp.CSS("a.open")),
		chromedp.WaitVisible(chromedp.CSS("#alert-title")))
	if got := textOf(t, ctx, "#alert-status"); got != "open" {
		t.Fatalf("status %q, want open", got)
	}
	do(t, ctx, "acknowledging",
		chromedp.Click(chromedp.CSS("#ack")),
		chromedp.WaitVisible(chromedp.CSS("#notice")))
	if got := textOf(t, ctx, "#alert-status"); got != "acknowledged" {
		t.Fatalf("after ack: status %q", got)
	}
	do(t, ctx, "resolving",
		chromedp.SetValue(chromedp.CSS("#resolution"), "false_positive"),
		chromedp.Click(chromedp.CSS("#resolve")),
		chromedp.WaitVisible(chromedp.CSS("#alert-resolution")))
	if got, res := textOf(t, ctx, "#alert-status"), textOf(t, ctx, "#alert-resolution"); got != "resolved" || res != "false_positive" {
		t.Fatalf("after resolve: %q as %q", got, res)
	}
	timeline := textOf(t, ctx, "#audit")
	for _, want := range []string{"raised", "acknowledged by ana", "resolved by ana — as false_positive"} {
		if !strings.Contains(timeline, want) {
			t.Errorf("timeline lacks %q:\n%s", want, timeline)
		}
	}
	if got := s.alert(t, target.ID); got.Status != alert.Resolved || got.Resolution != alert.FalsePositive || got.ResolvedBy != "ana" {
		t.Errorf("stored: %+v", got)
	}

	// The keyboard: j selects the first open alert, a acknowledges it.
	do(t, ctx, "the keyboard",
		chromedp.Navigate(s.url+"/console/alerts"),
		chromedp.WaitVisible(chromedp.CSS("#queue")),
		chromedp.KeyEvent("j"),
		chromedp.WaitVisible(chromedp.CSS("tr.alert-row.selected")),
		chromedp.KeyEvent("a"),
		chromedp.WaitVisible(chromedp.CSS("#notice")))
	if got := s.alert(t, other.ID); got.Status != alert.Acknowledged || got.AckedBy != "ana" {
		t.Errorf("j, a: alert %d is %s by %q", other.ID, got.Status, got.AckedBy)
	}

	// A viewer sees the alert without its actions, and a POST is refused.
	vctx := chrome(t)
	login(t, vctx, s.url, viewerToken)
	do(t, vctx, "viewer opens the alert",
		chromedp.Navigate(fmt.Sprintf("%s/console/alerts/%d", s.url, other.ID)),
		chromedp.WaitVisible(chromedp.CSS("#alert-title")))
	if n := evalInt(t, vctx, `document.querySelectorAll("#actions, form[action*='/alerts/'] button").length`); n != 0 {
		t.Errorf("the viewer sees %d action elements", n)
	}
	post := fmt.Sprintf(`fetch("/console/alerts/%d/resolve", {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"},
		body: "resolution=benign&csrf=" + encodeURIComponent(document.body.dataset.csrf)}).then(r => r.status)`, other.ID)
	if status := get(t, vctx, "viewer POST", chromedp.Evaluate[int](post, chromedp.EvalAwaitPromise)); status != 403 {
		t.Errorf("viewer POST: %d, want 403", status)
	}
	if got := s.alert(t, other.ID); got.Status != alert.Acknowledged {
		t.Errorf("the viewer's POST changed alert %d to %s", other.ID, got.Status)
	}
}
