package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/notify"
)

// BenchmarkAlertToReceiver measures the whole way of a notification on the
// real clock: an alert raised by the alert service, routed into its own
// group (group_wait 0, so the figures are what comes on top of group_wait),
// stored in the outbox, sent by a webhook-like channel to a server on
// loopback. "burst" raises b.N alerts as fast as the store takes them and
// reports notifications per second, with latencies that include the queue;
// "one-by-one" waits for each to arrive before raising the next: the
// latency of a lone alert. Latency is from raising the alert to the
// server's receipt (p50, p99).
func BenchmarkAlertToReceiver(b *testing.B) {
	b.Run("burst", func(b *testing.B) { benchAlertToReceiver(b, false) })
	b.Run("one-by-one", func(b *testing.B) { benchAlertToReceiver(b, true) })
}

func benchAlertToReceiver(b *testing.B, wait bool) {
	e := newEnv(b)
	e.clk = &clock{} // the real one
	var d *notify.Dispatcher
	e.db.Close()
	e.open(func() { d.Kick() })

	var mu sync.Mutex
	received := map[int64]time.Time{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body hookBody
		_ = json.Unmarshal(raw, &body)
		now := time.Now()
		mu.Lock()
		for _, a := range body.Alerts {
			received[a.ID] = now
		}
		mu.Unlock()
	}))
	defer srv.Close()
	arrived := func(n int) bool {
		mu.Lock()
		defer mu.Unlock()
		return len(received) >= n
	}
	recv := notify.Receiver{Name: "hook", Channel: &hookChannel{url: srv.URL}, Timeout: 5 * time.Second}
	route := config.RouteConfig{GroupBy: []string{"..."}, GroupWait: dur(0)}
	d = e.dispatcher([]notify.Receiver{recv}, notify.Options{Route: tree(b, route, timers, "hook"), Now: time.Now,
		PollInterval: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()

	raised := make(map[int64]time.Time, b.N)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		at := time.Now()
		a := e.raise(cardName(i))
		raised[a.ID] = at
		for wait && !arrived(i+1) {
			time.Sleep(50 * time.Microsecond)
		}
	}
	for !arrived(b.N) {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	<-done

	lat := make([]time.Duration, 0, b.N)
	for id, at := range raised {
		lat = append(lat, received[id].Sub(at))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "notifications/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

func cardName(i int) string {
	const digits = "0123456789"
	b := []byte("card-")
	for n := i; ; n /= 10 {
		b = append(b, digits[n%10])
		if n < 10 {
			break
		}
	}
	return string(b)
}
