package pipeline

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/decision"
)

// Metrics are the pipeline's Prometheus series. A nil *Metrics records nothing.
type Metrics struct {
	records     *prometheus.CounterVec
	hits        *prometheus.CounterVec
	evalSeconds prometheus.Histogram
	evalErrors  prometheus.Counter
	deadLetters *prometheus.CounterVec
	alerts      *prometheus.CounterVec
}

// NewMetrics registers the pipeline's series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_records_total", Help: "Records decided, by source and action.",
		}, []string{"source", "action"}),
		hits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_rule_hits_total", Help: "Rule hits, by rule and mode (enforce or shadow).",
		}, []string{"rule", "mode"}),
		evalSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vigil_eval_seconds", Help: "Policy evaluation time per record.",
			Buckets: prometheus.ExponentialBuckets(10e-6, 2, 14), // 10µs … 80ms
		}),
		evalErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_eval_errors_total", Help: "Records the policy failed to evaluate (dead-lettered).",
		}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_dead_letters_total", Help: "Records refused as invalid or unevaluable, by source.",
		}, []string{"source"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_alerts_observed_total", Help: "Alert raises and repeats, by rule and status after the change.",
		}, []string{"rule", "status"}),
	}
	reg.MustRegister(m.records, m.hits, m.evalSeconds, m.evalErrors, m.deadLetters, m.alerts)
	return m
}

func (m *Metrics) decided(source string, d *decision.Decision) {
	if m == nil {
		return
	}
	m.records.WithLabelValues(source, string(d.Action)).Inc()
	m.evalSeconds.Observe(float64(d.EvalUS) * float64(time.Microsecond) / float64(time.Second))
	for _, h := range d.Hits {
		m.hits.WithLabelValues(h.Rule, "enforce").Inc()
	}
	for _, h := range d.ShadowHits {
		m.hits.WithLabelValues(h.Rule, "shadow").Inc()
	}
}

func (m *Metrics) evalError() {
	if m != nil {
		m.evalErrors.Inc()
	}
}

func (m *Metrics) deadLettered(source string) {
	if m != nil {
		m.deadLetters.WithLabelValues(source).Inc()
	}
}

func (m *Metrics) alerted(alerts []alert.Alert) {
	if m == nil {
		return
	}
	for _, a := range alerts {
		m.alerts.WithLabelValues(a.Rule, string(a.Status)).Inc()
	}
}
