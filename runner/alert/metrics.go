package alert

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the per-rule alert series. The counters and the histogram
// count what this process did; the precision gauge is read from the store at
// scrape time, so resolutions made by other processes (the CLI) count too.
// A nil *metrics records nothing.
type metrics struct {
	raisedTotal   *prometheus.CounterVec   // rule
	ackedTotal    *prometheus.CounterVec   // rule
	resolvedTotal *prometheus.CounterVec   // rule, resolution
	timeToAck     *prometheus.HistogramVec // rule
}

func newMetrics(reg prometheus.Registerer, store Store) (*metrics, error) {
	m := &metrics{
		raisedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_alerts_raised_total", Help: "Alerts raised, by rule.",
		}, []string{"rule"}),
		ackedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_alerts_acknowledged_total", Help: "Alerts acknowledged, by rule.",
		}, []string{"rule"}),
		resolvedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_alerts_resolved_total", Help: "Alerts resolved, by rule and resolution label (true_positive, false_positive, benign, duplicate).",
		}, []string{"rule", "resolution"}),
		timeToAck: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vigil_alert_time_to_acknowledge_seconds",
			Help:    "From an alert's raise to its acknowledgement, by rule.",
			Buckets: []float64{30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400},
		}, []string{"rule"}),
	}
	for _, c := range []prometheus.Collector{m.raisedTotal, m.ackedTotal, m.resolvedTotal, m.timeToAck, precisionCollector{store}} {
		if err := reg.Register(c); err != nil {
			return nil, errors.New("register metrics: " + err.Error())
		}
	}
	return m, nil
}

func (m *metrics) raised(a *Alert) {
	if m != nil {
		m.raisedTotal.WithLabelValues(a.Rule).Inc()
	}
}

// applied counts an action that changed before into after.
func (m *metrics) applied(before, after *Alert, kind ActionKind) {
	if m == nil {
		return
	}
	switch kind {
	case ActAck:
		m.ackedTotal.WithLabelValues(after.Rule).Inc()
		if after.AckedAt != nil {
			m.timeToAck.WithLabelValues(after.Rule).Observe(max(after.AckedAt.Sub(before.CreatedAt), 0).Seconds())
		}
	case ActResolve:
		m.resolvedTotal.WithLabelValues(after.Rule, string(after.Resolution)).Inc()
	}
}

// LabelCount is how many of a rule's resolved alerts carry one resolution.
type LabelCount struct {
	Rule       string
	Resolution Resolution
	Alerts     int
}

// Precision is a rule's share of true positives among its alerts labelled
// true or false positive; ok is false while it has none.
func Precision(counts []LabelCount, rule string) (p float64, ok bool) {
	var tp, fp int
	for _, c := range counts {
		if c.Rule != rule {
			continue
		}
		switch c.Resolution {
		case TruePositive:
			tp += c.Alerts
		case FalsePositive:
			fp += c.Alerts
		}
	}
	if tp+fp == 0 {
		return 0, false
	}
	return float64(tp) / float64(tp+fp), true
}

var (
	precisionDesc = prometheus.NewDesc("vigil_rule_precision",
		"True positives over true plus false positives among a rule's resolved alerts (analysts' labels).", []string{"rule"}, nil)
	labelsDesc = prometheus.NewDesc("vigil_rule_resolved_alerts",
		"A rule's resolved alerts in the store, by resolution label.", []string{"rule", "resolution"}, nil)
)

// precisionCollector reads the resolution counts at scrape time.
type precisionCollector struct{ store Store }

func (precisionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- precisionDesc
	ch <- labelsDesc
}

func (c precisionCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.store.LabelCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(precisionDesc, err)
		return
	}
	seen := map[string]bool{}
	for _, lc := range counts {
		ch <- prometheus.MustNewConstMetric(labelsDesc, prometheus.GaugeValue, float64(lc.Alerts), lc.Rule, string(lc.Resolution))
		if seen[lc.Rule] {
			continue
		}
		seen[lc.Rule] = true
		if p, ok := Precision(counts, lc.Rule); ok {
			ch <- prometheus.MustNewConstMetric(precisionDesc, prometheus.GaugeValue, p, lc.Rule)
		}
	}
}

// LabelCounts returns how many resolved alerts carry each resolution, per rule.
func (s *Service) LabelCounts(ctx context.Context) ([]LabelCount, error) {
	return s.store.LabelCounts(ctx)
}
