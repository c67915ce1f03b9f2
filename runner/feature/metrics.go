package feature

import "github.com/prometheus/client_golang/prometheus"

// register exposes the engine's counters, read when scraped: the hot path
// pays one atomic add for a late contribution or a duplicate, nothing else.
func (e *Engine) register(r prometheus.Registerer) error {
	collectors := []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "vigil_feature_late_contributions_total",
			Help: "Contributions not applied because they were older than the watermark minus the lateness.",
		}, func() float64 { return float64(e.late.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "vigil_feature_duplicate_records_total",
			Help: "Records not applied because their id was applied before, within the dedup horizon.",
		}, func() float64 { return float64(e.duplicates.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vigil_feature_entities",
			Help: "Entities holding feature state.",
		}, func() float64 { return float64(e.store.Stats().Entities) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "vigil_feature_entity_evictions_total",
			Help: "Entities evicted (least recently updated first) to stay within the entity cap.",
		}, func() float64 { return float64(e.store.Stats().Evicted) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "vigil_feature_entities_expired_total",
			Help: "Entities deleted because all their state fell out of retention.",
		}, func() float64 { return float64(e.store.Stats().Expired) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vigil_feature_watermark_seconds",
			Help: "The latest event time applied, in seconds since the epoch (0 before any).",
		}, func() float64 {
			if wm := e.wm.Load(); wm != minTime {
				return float64(wm) / 1e9
			}
			return 0
		}),
	}
	for i, c := range collectors {
		if err := r.Register(c); err != nil {
			for _, done := range collectors[:i] {
				r.Unregister(done)
			}
			return err
		}
	}
	return nil
}
