package main

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// labelApp is the app `vigil run` assembles with its handling (the label
// feed among it), running, if run, until the test ends or stop is called.
type labelApp struct {
	*app
	stop func() // ends the handling and closes the app, saving the feature state
}

func startLabelApp(t *testing.T, cfg config.Config, run bool) *labelApp {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	a, err := newApp(t.Context(), cfg, log, appParts{alerts: true, state: cfg.Features.SnapshotPath})
	if err != nil {
		t.Fatal(err)
	}
	if a.handling, err = newHandling(t.Context(), cfg, a, nil, log); err != nil {
		a.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	if run {
		a.handling.start(ctx, &wg)
	}
	var once sync.Once
	la := &labelApp{app: a, stop: func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			if err := a.saveState(); err != nil {
				t.Error(err)
			}
			if err := a.Close(); err != nil {
				t.Error(err)
			}
		})
	}}
	t.Cleanup(la.stop)
	return la
}

// decide decides a payment at a terminal; deciding the same id again reads
// the features without changing them (a duplicate).
func (a *labelApp) decide(t *testing.T, id string, at time.Time, terminal string, amount float64) decision.Decision {
	t.Helper()
	raw := map[string]any{"id": id, "ts": at.Format(time.RFC3339), "type": "payment", "customer_id": "cus-" + id,
		"card_id": "ctok_" + id, "terminal_id": terminal, "amount": amount, "currency": "EUR", "mcc": "5411", "channel": "pos",
		"merchant_country": "FR", "card_country": "FR"}
	rec, errs := a.pipe.Normalizer().Normalize(maps.Clone(raw))
	if len(errs) > 0 {
		t.Fatalf("%s: %v", id, errs)
	}
	d, err := a.pipe.Decide(t.Context(), rec, "test")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// frauds is the terminal's labelled fraud count a week after its payments,
// read by a probe payment at `at`.
func (a *labelApp) frauds(t *testing.T, terminal string, at time.Time) float64 {
	t.Helper()
	d := a.decide(t, "q-"+terminal, at, terminal, 20)
	got, ok := d.Features["terminal_fraud_count_28d_d7"].(float64)
	if !ok {
		t.Fatalf("terminal %s: no terminal_fraud_count_28d_d7 in %v", terminal, d.Features)
	}
	return got
}

// waitFrauds waits until the terminal's fraud count is want: the label feed
// applies resolutions on its own goroutine.
func (a *labelApp) waitFrauds(t *testing.T, terminal string, at time.Time, want float64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := a.frauds(t, terminal, at)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("terminal %s: terminal_fraud_count_28d_d7 = %v after %s, want %v from the analysts' labels", terminal, got, within, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func labelConfig(t *testing.T, dir string, set ...string) config.Config {
	t.Helper()
	cfg, err := config.Load(config.Sources{Files: []string{writeConfig(t, dir, shippedPolicies, "")}, Environ: []string{},
		Set: append([]string{"features.log_features=true"}, set...)})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// resolveElsewhere resolves an alert as `vigil alerts resolve` does: through
// a handle of its own on the same SQLite file, which no running runner hears.
func resolveElsewhere(t *testing.T, path string, id int64, r alert.Resolution) {
	t.Helper()
	db, err := sqldb.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc, err := openAlerts(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Resolve(t.Context(), id, "cli", r, ""); err != nil {
		t.Fatal(err)
	}
}

// TestLabelsAndMetricsInTheRunner: in the app `vigil run` assembles, an
// analyst's true positive reaches the delayed-label features (the terminal's
// fraud count a week later) through the label feed, woken by the service's
// kick well before its interval, and the per-rule alert metrics are
// registered and count what happened.
func TestLabelsAndMetricsInTheRunner(t *testing.T) {
	cfg := labelConfig(t, t.TempDir(), "handling.interval=1h") // only the kick can be in time
	a := startLabelApp(t, cfg, true)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	decide := func(id string, at time.Time, terminal string, amount float64) decision.Decision {
		t.Helper()
		return a.decide(t, id, at, terminal, amount)
	}
	d := decide("p-1", now.Add(-8*24*time.Hour), "t-label", 7200)
	if len(d.Hits) == 0 || d.Hits[0].Rule != "large_payment" {
		t.Fatalf("p-1 hits %v, want large_payment", d.Hits)
	}
	decide("p-2", now.Add(-8*24*time.Hour), "t-other", 7300)
	as, err := a.alerts.List(ctx, alert.Filter{Rule: "large_payment"})
	if err != nil || len(as) != 2 {
		t.Fatalf("alerts %v, %v", as, err)
	}
	fraud, other := as[1], as[0] // newest first
	for _, act := range []alert.Action{
		{Kind: alert.ActAck, Actor: "ana"},
		{Kind: alert.ActResolve, Actor: "ana", Resolution: alert.TruePositive},
	} {
		if _, err := a.alerts.Apply(ctx, fraud.ID, act); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.alerts.Apply(ctx, other.ID, alert.Action{Kind: alert.ActResolve, Actor: "ana", Resolution: alert.FalsePositive}); err != nil {
		t.Fatal(err)
	}

	later := now.Add(time.Minute)
	a.waitFrauds(t, "t-label", later, 1, 5*time.Second)
	if got := a.frauds(t, "t-other", later); got != 0 {
		t.Errorf("terminal t-other: terminal_fraud_count_28d_d7 = %v, want 0 (a false positive)", got)
	}

	fams, err := a.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"vigil_alerts_raised_total", map[string]string{"rule": "large_payment"}, 2},
		{"vigil_alerts_acknowledged_total", map[string]string{"rule": "large_payment"}, 1},
		{"vigil_alerts_resolved_total", map[string]string{"rule": "large_payment", "resolution": "true_positive"}, 1},
		{"vigil_alerts_resolved_total", map[string]string{"rule": "large_payment", "resolution": "false_positive"}, 1},
		{"vigil_alert_time_to_acknowledge_seconds", map[string]string{"rule": "large_payment"}, 1}, // observations
		{"vigil_rule_precision", map[string]string{"rule": "large_payment"}, 0.5},
		{"vigil_rule_resolved_alerts", map[string]string{"rule": "large_payment", "resolution": "true_positive"}, 1},
	} {
		got, ok := metricValue(fams, tc.name, tc.labels)
		if !ok || got != tc.want {
			t.Errorf("%s%v = %v (found %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
}

// TestLabelsFromAnotherProcess: a resolution written through another
// handle on the store (the CLI) reaches the running runner's features at
// its next handling.interval.
func TestLabelsFromAnotherProcess(t *testing.T) {
	cfg := labelConfig(t, t.TempDir(), "handling.interval=50ms")
	a := startLabelApp(t, cfg, true)
	now := time.Now().UTC().Truncate(time.Second)
	a.decide(t, "p-1", now.Add(-8*24*time.Hour), "t-cli", 7200)
	as, err := a.alerts.List(t.Context(), alert.Filter{Rule: "large_payment"})
	if err != nil || len(as) != 1 {
		t.Fatalf("alerts %v, %v", as, err)
	}
	later := now.Add(time.Minute)
	if got := a.frauds(t, "t-cli", later); got != 0 {
		t.Fatalf("before the resolution: %v frauds", got)
	}
	resolveElsewhere(t, cfg.Store.Path, as[0].ID, alert.TruePositive)
	a.waitFrauds(t, "t-cli", later, 1, 5*time.Second)
}

// TestLabelsAcrossRestarts: a restarted runner applies a label resolved
// while it was down, and does not hand the features the labels it applied
// before (its cursor is in the store).
func TestLabelsAcrossRestarts(t *testing.T) {
	cfg := labelConfig(t, t.TempDir(), "handling.interval=1h") // the test ticks the feed itself
	now := time.Now().UTC().Truncate(time.Second)
	later := now.Add(time.Minute)

	a := startLabelApp(t, cfg, true)
	a.decide(t, "p-1", now.Add(-8*24*time.Hour), "t-before", 7200)
	a.decide(t, "p-2", now.Add(-8*24*time.Hour), "t-down", 7300)
	as, err := a.alerts.List(t.Context(), alert.Filter{Rule: "large_payment"})
	if err != nil || len(as) != 2 {
		t.Fatalf("alerts %v, %v", as, err)
	}
	before, down := as[1], as[0] // newest first
	if _, err := a.alerts.Resolve(t.Context(), before.ID, "ana", alert.TruePositive, ""); err != nil {
		t.Fatal(err)
	}
	a.waitFrauds(t, "t-before", later, 1, 5*time.Second)
	a.stop()

	resolveElsewhere(t, cfg.Store.Path, down.ID, alert.TruePositive)

	b := startLabelApp(t, cfg, false) // its feed ticked by hand, to count what it hands on
	if n, err := b.handling.labels.Tick(t.Context()); err != nil || n != 1 {
		t.Fatalf("first Tick after the restart = %d, %v; want 1 label (the one resolved while down)", n, err)
	}
	for _, tc := range []struct {
		terminal string
		want     float64
	}{
		{"t-before", 1}, // from the saved state; the feed did not repeat it
		{"t-down", 1},   // resolved while the runner was down
	} {
		if got := b.frauds(t, tc.terminal, later.Add(time.Minute)); got != tc.want {
			t.Errorf("terminal %s after the restart: terminal_fraud_count_28d_d7 = %v, want %v", tc.terminal, got, tc.want)
		}
	}
}

// metricValue finds one series: a counter's or gauge's value, a histogram's count.
func metricValue(fams []*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue(), true
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), true
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}
