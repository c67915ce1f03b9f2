package pipeline_test

import (
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/ingest"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/record"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// BenchmarkDecide is one typical payment through the shipped starter pack,
// with the decision log written (to nowhere) and, as `vigil run` has them,
// with and without metrics. No alerts: the payment is clean.
func BenchmarkDecide(b *testing.B) {
	for _, bc := range []struct {
		name    string
		metrics bool
	}{{"log", false}, {"log+metrics", true}} {
		b.Run(bc.name, func(b *testing.B) {
			opts := pipeline.Options{Env: "bench", RunnerVersion: "bench", Decisions: pipeline.DecisionLog{JSONL: pipeline.NewJSONL(io.Discard, nil)}}
			if bc.metrics {
				opts.Metrics = pipeline.NewMetrics(prometheus.NewRegistry())
			}
			p, _ := newPipeline(b, shippedBundle, opts)
			rec := normalize(b, p, payment("b-1", nil))
			ctx := b.Context()
			if d, err := p.Decide(ctx, rec, "bench"); err != nil || d.Action != decision.Allow {
				b.Fatalf("decision %+v, %v; want a clean allow", d, err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Decide(ctx, rec, "bench"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRunJSONLAlerts is BenchmarkRunJSONL with alerts stored in
// SQLite as `vigil replay` stores them (at or above medium severity), on a
// stream with 15% injected patterns: the alert store's share of Run.
func BenchmarkRunJSONLAlerts(b *testing.B) {
	const n = 1000
	gen := ingest.NewGenerator(1, 0.15)
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	for i := range n {
		if err := enc.Encode(gen.Next(start.Add(time.Duration(i) * 50 * time.Millisecond))); err != nil {
			b.Fatal(err)
		}
	}
	db, err := sqldb.Open(b.Context(), filepath.Join(b.TempDir(), "vigil.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	store, err := alertsqlite.New(b.Context(), db)
	if err != nil {
		b.Fatal(err)
	}
	svc, err := alert.NewService(store, alert.Options{MinSeverity: decision.Medium})
	if err != nil {
		b.Fatal(err)
	}
	p, _ := newPipeline(b, shippedBundle, pipeline.Options{Env: "bench", Alerts: svc, Decisions: pipeline.DecisionLog{JSONL: pipeline.NewJSONL(io.Discard, nil)}})
	ctx := b.Context()
	b.SetBytes(int64(data.Len()))
	b.ReportAllocs()
	for b.Loop() {
		src := &ingest.Reader{SourceName: "bench", R: bytes.NewReader(data.Bytes()), Format: record.FormatJSONL, Normalizer: p.Normalizer}
		if err := p.Run(ctx, src, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}

// BenchmarkRunJSONL is a JSONL stream of 1,000 demo records (5% with an
// injected pattern) read, normalised, decided and logged by Run.
func BenchmarkRunJSONL(b *testing.B) {
	const n = 1000
	gen := ingest.NewGenerator(1, 0.05)
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	for i := range n {
		if err := enc.Encode(gen.Next(start.Add(time.Duration(i) * 50 * time.Millisecond))); err != nil {
			b.Fatal(err)
		}
	}
	p, _ := newPipeline(b, shippedBundle, pipeline.Options{Env: "bench", Decisions: pipeline.DecisionLog{JSONL: pipeline.NewJSONL(io.Discard, nil)}})
	ctx := b.Context()
	decided := 0
	count := func(record.Record, *decision.Decision) { decided++ }
	b.SetBytes(int64(data.Len()))
	b.ReportAllocs()
	for b.Loop() {
		decided = 0
		src := &ingest.Reader{SourceName: "bench", R: bytes.NewReader(data.Bytes()), Format: record.FormatJSONL, Normalizer: p.Normalizer}
		if err := p.Run(ctx, src, count); err != nil {
			b.Fatal(err)
		}
		if decided != n {
			b.Fatalf("%d records decided, want %d", decided, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}
