package alert_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/decision"
)

func TestEscalate(t *testing.T) {
	kicks := 0
	svc, clk, _ := setup(t, alert.Options{Kick: func() { kicks++ }})
	ctx := t.Context()
	a := observe(t, svc, rec("t-1", t0, "c1"), hit("r", decision.High, "x", card("c1")))[0]
	clk.Advance(15 * time.Minute)
	step := alert.Escalation{Policy: "payments", Level: 1, Step: 1, Receivers: []string{"lead"}}
	got, done, err := svc.Escalate(ctx, a.ID, step)
	if err != nil || !done || got.EscalationLevel != 1 || got.Escalations != 1 {
		t.Fatalf("Escalate = %+v, %v, %v", got, done, err)
	}
	// The same step again (a retry after a crash) does nothing.
	if _, done, err := svc.Escalate(ctx, a.ID, step); err != nil || done {
		t.Errorf("second Escalate of step 1 = %v, %v; want a no-op", done, err)
	}
	es, _ := svc.Events(ctx, a.ID)
	if len(es) != 2 || es[1].Kind != alert.EventEscalated || es[1].Actor != alert.SystemActor {
		t.Fatalf("events = %+v", es)
	}
	var nd alert.NoticeData
	if err := json.Unmarshal(es[1].Data, &nd); err != nil || nd.ID != a.ID || nd.Notice.Receivers[0] != "lead" ||
		nd.Notice.Labels[alert.LabelEscalationLevel] != "1" || nd.Notice.Labels[alert.LabelEscalationPolicy] != "payments" ||
		!strings.Contains(nd.Notice.Summary, "unacknowledged for 15m0s") {
		t.Errorf("escalated data = %s (%v)", es[1].Data, err)
	}
	if kicks != 2 {
		t.Errorf("kicks = %d, want 2 (raise, escalation)", kicks)
	}
	// An escalation does not make an analyst's version stale.
	if _, err := svc.Apply(ctx, a.ID, alert.Action{Kind: alert.ActAck, Actor: "ana", Version: a.Version}); err != nil {
		t.Fatalf("ack on the version seen before the escalation: %v", err)
	}
	_, _, err = svc.Escalate(ctx, a.ID, alert.Escalation{Policy: "payments", Level: 2, Step: 2, Receivers: []string{"boss"}})
	var te *alert.TransitionError
	if !errors.As(err, &te) || te.Reason != "it is acknowledged" {
		t.Errorf("escalating an acknowledged alert = %v, want a TransitionError", err)
	}

	b := observe(t, svc, rec("t-2", t0, "c2"), hit("r", decision.High, "x", card("c2")))[0]
	if _, err := svc.Apply(ctx, b.ID, alert.Action{Kind: alert.ActSnooze, Actor: "ana", Until: clk.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Escalate(ctx, b.ID, step); !errors.As(err, &te) || !strings.Contains(te.Reason, "snoozed until") {
		t.Errorf("escalating a snoozed alert = %v", err)
	}
	if _, _, err := svc.Escalate(ctx, b.ID, alert.Escalation{Level: 1, Step: 1}); !errors.Is(err, alert.ErrInvalid) {
		t.Errorf("escalation without receivers = %v, want ErrInvalid", err)
	}
}

func TestDowngradeNoteAnnounce(t *testing.T) {
	svc, _, _ := setup(t, alert.Options{})
	ctx := t.Context()
	a := observe(t, svc, rec("t-1", t0, "c1"), hit("r", decision.High, "x", card("c1")))[0]
	got, done, err := svc.Downgrade(ctx, a.ID, "auto-action guard tripped")
	if err != nil || !done || !got.Downgraded || got.Action != decision.Review {
		t.Fatalf("Downgrade = %+v, %v, %v", got, done, err)
	}
	if _, done, _ := svc.Downgrade(ctx, a.ID, "again"); done {
		t.Error("second Downgrade changed the alert again")
	}
	if _, err := svc.Note(ctx, a.ID, alert.EventAutoAction, "freeze_card succeeded",
		alert.AutoActionData{Action: "freeze_card", Status: "succeeded", Attempts: 1, HTTPStatus: 200}); err != nil {
		t.Fatal(err)
	}
	e, err := svc.Announce(ctx, a.ID, alert.EventGuardTripped, alert.Notice{Receivers: []string{"oncall"}, Summary: "guard tripped"})
	if err != nil || e.ID == 0 || e.Hash == "" {
		t.Fatalf("Announce = %+v, %v", e, err)
	}
	if got := eventKinds(t, svc, a.ID); strings.Join(kindsText(got), ",") != "raised,downgraded,auto_action,guard_tripped" {
		t.Errorf("events = %v", got)
	}
	if _, err := svc.Note(ctx, 42, alert.EventAutoAction, "", nil); !errors.Is(err, alert.ErrNotFound) {
		t.Errorf("Note on a missing alert = %v", err)
	}
	if _, err := svc.Announce(ctx, a.ID, alert.EventGuardTripped, alert.Notice{}); !errors.Is(err, alert.ErrInvalid) {
		t.Errorf("Announce without receivers = %v", err)
	}
}

func kindsText(ks []alert.EventKind) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	svc, clk, _ := setup(t, alert.Options{Registerer: reg})
	ctx := t.Context()
	for i, r := range []alert.Resolution{alert.TruePositive, alert.TruePositive, alert.FalsePositive, alert.Benign} {
		c := string(rune('a' + i))
		a := observe(t, svc, rec("t-"+c, t0, c), hit("card_testing", decision.High, "x", card(c)))[0]
		clk.Advance(90 * time.Second)
		if _, err := svc.Ack(ctx, a.ID, "ana", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Resolve(ctx, a.ID, "ana", r, ""); err != nil {
			t.Fatal(err)
		}
	}
	observe(t, svc, rec("t-z", t0, "z"), hit("geo", decision.High, "x", card("z")))

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.MetricFamily{}
	for _, f := range families {
		got[f.GetName()] = f
	}
	value := func(name string, labels map[string]string) float64 {
		for _, m := range got[name].GetMetric() {
			match := true
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					match = false
				}
			}
			if match {
				switch {
				case m.Counter != nil:
					return m.GetCounter().GetValue()
				case m.Gauge != nil:
					return m.GetGauge().GetValue()
				case m.Histogram != nil:
					return float64(m.GetHistogram().GetSampleCount())
				}
			}
		}
		return math.NaN()
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"vigil_alerts_raised_total", map[string]string{"rule": "card_testing"}, 4},
		{"vigil_alerts_raised_total", map[string]string{"rule": "geo"}, 1},
		{"vigil_alerts_acknowledged_total", map[string]string{"rule": "card_testing"}, 4},
		{"vigil_alerts_resolved_total", map[string]string{"rule": "card_testing", "resolution": "true_positive"}, 2},
		{"vigil_alerts_resolved_total", map[string]string{"rule": "card_testing", "resolution": "benign"}, 1},
		{"vigil_alert_time_to_acknowledge_seconds", map[string]string{"rule": "card_testing"}, 4},
		{"vigil_rule_precision", map[string]string{"rule": "card_testing"}, 2.0 / 3},
		{"vigil_rule_resolved_alerts", map[string]string{"rule": "card_testing", "resolution": "false_positive"}, 1},
	} {
		if v := value(tc.name, tc.labels); math.Abs(v-tc.want) > 1e-9 {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, v, tc.want)
		}
	}
	h := got["vigil_alert_time_to_acknowledge_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleSum() != 4*90 {
		t.Errorf("time to acknowledge sums to %vs, want 360s", h.GetSampleSum())
	}
	for _, m := range got["vigil_rule_precision"].GetMetric() {
		if m.GetLabel()[0].GetValue() == "geo" {
			t.Error("a rule without labelled alerts has a precision")
		}
	}
}
