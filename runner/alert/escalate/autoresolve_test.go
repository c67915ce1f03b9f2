package escalate_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/alert/escalate"
	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/decision"
)

func TestAutoResolveQuietAlertsAcrossRestart(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	policies := []config.AutoResolvePolicy{
		{Name: "quiet-low", Match: config.AlertMatch{Severity: []string{"low"}}, QuietFor: 24 * time.Hour},
		{Name: "quiet-any", QuietFor: 72 * time.Hour, Resolution: "false_positive"},
	}
	resolver := func() *escalate.AutoResolver {
		return escalate.NewAutoResolver(w.cur.svc, escalate.ResolverOptions{Policies: policies, Now: w.clk.Now})
	}
	tick := func(d time.Duration) int {
		t.Helper()
		w.clk.Set(start.Add(d))
		n, err := resolver().Tick(ctx)
		if err != nil {
			t.Fatalf("Tick at %s: %v", d, err)
		}
		return n
	}
	quiet := w.raise(decision.Low, "c1")
	busy := w.raise(decision.Low, "c2")
	acked := w.raise(decision.Low, "c3")
	snoozed := w.raise(decision.Low, "c4")
	high := w.raise(decision.High, "c5")
	if _, err := w.cur.svc.Ack(ctx, acked.ID, "ana", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := w.cur.svc.Apply(ctx, snoozed.ID, alert.Action{Kind: alert.ActSnooze, Actor: "ana", Until: start.Add(100 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	w.clk.Set(start.Add(20 * time.Hour))
	w.raise(decision.Low, "c2") // busy hits again at +20h

	if n := tick(23 * time.Hour); n != 0 {
		t.Fatalf("before 24h: resolved %d", n)
	}
	w.restart() // the timer is the alert's last hit, kept in the store
	if n := tick(24 * time.Hour); n != 1 {
		t.Fatalf("at 24h: resolved %d, want the quiet low alert only", n)
	}
	a, _ := w.cur.svc.Get(ctx, quiet.ID)
	if a.Status != alert.Resolved || a.Resolution != alert.Benign || a.ResolvedBy != alert.SystemActor ||
		!strings.Contains(a.Comment, "auto-resolved by policy quiet-low: no hit for 24h0m0s") {
		t.Errorf("auto-resolved alert = %+v", a)
	}
	es, _ := w.cur.svc.Events(ctx, quiet.ID)
	if last := es[len(es)-1]; last.Kind != alert.EventResolved || last.Actor != alert.SystemActor {
		t.Errorf("audit: %+v, want a resolved event by vigil", last)
	}
	if n := tick(44 * time.Hour); n != 1 {
		t.Fatalf("at 44h: resolved %d, want the busy alert, 24h after its last hit", n)
	}
	// The high alert is no low one: its policy is quiet-any, after 72h.
	if n := tick(71 * time.Hour); n != 0 {
		t.Fatalf("at 71h: resolved %d", n)
	}
	if n := tick(72 * time.Hour); n != 1 {
		t.Fatalf("at 72h: resolved %d, want the high alert", n)
	}
	if a, _ := w.cur.svc.Get(ctx, high.ID); a.Resolution != alert.FalsePositive {
		t.Errorf("high alert = %+v", a)
	}
	for _, id := range []int64{acked.ID, snoozed.ID} {
		if a, _ := w.cur.svc.Get(ctx, id); a.Status == alert.Resolved {
			t.Errorf("alert %d (acknowledged or snoozed) was auto-resolved", id)
		}
	}
	_ = busy
}
