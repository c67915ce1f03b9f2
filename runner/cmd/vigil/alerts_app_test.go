package main

import (
	"log/slog"
	"maps"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/decision"
)

// TestLabelsAndMetricsInTheRunner: in the app `vigil run` assembles, an
// analyst's true positive reaches the delayed-label features (the terminal's
// fraud count a week later), and the per-rule alert metrics are registered
// and count what happened.
func TestLabelsAndMetricsInTheRunner(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Load(config.Sources{Files: []string{writeConfig(t, dir, shippedPolicies, "")}, Environ: []string{},
		Set: []string{"features.log_features=true"}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(t.Context(), cfg, slog.New(slog.DiscardHandler), appParts{alerts: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	decide := func(id string, at time.Time, terminal string, amount float64) decision.Decision {
		t.Helper()
		raw := map[string]any{"id": id, "ts": at.Format(time.RFC3339), "type": "payment", "customer_id": "cus-" + id,
			"card_id": "ctok_" + id, "terminal_id": terminal, "amount": amount, "currency": "EUR", "mcc": "5411", "channel": "pos",
			"merchant_country": "FR", "card_country": "FR"}
		rec, errs := a.pipe.Normalizer().Normalize(maps.Clone(raw))
		if len(errs) > 0 {
			t.Fatalf("%s: %v", id, errs)
		}
		d, err := a.pipe.Decide(ctx, rec, "test")
		if err != nil {
			t.Fatal(err)
		}
		return d
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
	for terminal, want := range map[string]float64{"t-label": 1, "t-other": 0} {
		d := decide("q-"+terminal, later, terminal, 20)
		if got, ok := d.Features["terminal_fraud_count_28d_d7"]; !ok || got != want {
			t.Errorf("terminal %s: terminal_fraud_count_28d_d7 = %v (present %v), want %v from the analysts' labels", terminal, got, ok, want)
		}
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
