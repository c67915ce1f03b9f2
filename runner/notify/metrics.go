package notify

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the dispatcher's Prometheus series.
type metrics struct {
	notifications *prometheus.CounterVec   // by receiver and the status a notification ended in
	sends         *prometheus.CounterVec   // by receiver and outcome: ok, retry, error
	latency       *prometheus.HistogramVec // of Channel.Send, by receiver
}

func newMetrics(reg prometheus.Registerer, o *Outbox) (*metrics, error) {
	m := &metrics{
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_notifications_total",
			Help: "Notifications by receiver and the status they ended in: delivered, failed (dead letters), merged (into a digest), rerouted (to a fallback).",
		}, []string{"receiver", "status"}),
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_notification_sends_total",
			Help: "Requests to receivers (one per payload part and attempt) by outcome: ok, retry (a retryable failure), error (a permanent one).",
		}, []string{"receiver", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vigil_notification_send_duration_seconds",
			Help:    "How long one send to a receiver took, failures included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"receiver"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.notifications, m.sends, m.latency, pendingCollector{o}} {
		if err := reg.Register(c); err != nil {
			return nil, errors.New("register metrics: " + err.Error())
		}
	}
	return m, nil
}

func (m *metrics) sent(receiver string, took time.Duration, err error, retry bool) {
	m.latency.WithLabelValues(receiver).Observe(took.Seconds())
	outcome := "ok"
	switch {
	case err != nil && retry:
		outcome = "retry"
	case err != nil:
		outcome = "error"
	}
	m.sends.WithLabelValues(receiver, outcome).Inc()
}

// pendingCollector reports the pending notifications per receiver, counted
// in the outbox at scrape time (so that other processes' changes count too).
type pendingCollector struct{ o *Outbox }

var pendingDesc = prometheus.NewDesc("vigil_notifications_pending",
	"Notifications waiting to be delivered, by receiver.", []string{"receiver"}, nil)

func (pendingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- pendingDesc }

func (c pendingCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.o.pendingByReceiver(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(pendingDesc, err)
		return
	}
	for name, n := range counts {
		ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(n), name)
	}
}
