package bench

import (
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/open-policy-agent/opa/v1/version"
)

// WriteTable prints the comparison: one row per workload, the ratios, and
// the load on /v1/decide.
func WriteTable(w io.Writer, results []Result, o Options) {
	o.defaults()
	fmt.Fprintf(w, "%d records × %d runs, interleaved; median and [min–max] over the runs; GOMAXPROCS=%d, %s, OPA %s\n",
		o.Records, o.Runs, runtime.GOMAXPROCS(0), runtime.Version(), opaVersion())
	fmt.Fprintln(w, "CPU µs/record: process CPU (user+sys, all threads, GC included), the sidecar's own added. Latency: one record, from reading it to its decision.")
	fmt.Fprintln(w)
	const row = "%-76s %10s %9s %15s %7s %7s %8s %9s %9s %6s\n"
	fmt.Fprintf(w, row, "workload", "records/s", "µs/rec", "[min–max]", "CPU µs", "allocs", "B/rec", "p50", "p99", "same")
	byKey := map[string]Result{}
	for _, r := range results {
		byKey[r.Key] = r
		if r.Key == "load" {
			continue
		}
		if r.Median == 0 {
			fmt.Fprintf(w, "%-76s %s\n", r.Name, r.Note)
			continue
		}
		spread := fmt.Sprintf("[%.1f–%.1f]", us(r.Min)/float64(r.Records), us(r.Max)/float64(r.Records))
		same := "–"
		if r.Mismatches == 0 {
			same = "yes"
		} else if r.Mismatches > 0 {
			same = fmt.Sprintf("%d ≠", r.Mismatches)
		}
		fmt.Fprintf(w, row, r.Name, fmt.Sprintf("%.0f", r.PerSecond()), fmt.Sprintf("%.1f", r.MicrosPerRecord()), spread,
			fmt.Sprintf("%.1f", us(r.CPUPerRec)), fmt.Sprintf("%.0f", r.AllocsPerRec), fmt.Sprintf("%.0f", r.BytesPerRec),
			dur(r.P50), dur(r.P99), same)
	}
	fmt.Fprintln(w)
	ratio := func(label, a, b string) {
		x, y := byKey[a], byKey[b]
		if x.Median == 0 || y.Median == 0 {
			return
		}
		fmt.Fprintf(w, "%-64s %6.1f× records/s   %6.1f× less CPU per record\n", label, x.PerSecond()/y.PerSecond(), ratioOf(y.CPUPerRec, x.CPUPerRec))
	}
	ratio("Vigil pipeline (e) vs stock embedded OPA (b), same cores:", "pipeline", "opa")
	ratio("Vigil pipeline (e) vs the OPA sidecar (c):", "pipeline", "sidecar")
	ratio("Vigil Policy.Decide (d) vs stock embedded OPA (b), evaluation only:", "decide", "opa")
	ratio("Vigil pipeline, fast path on (e) vs off (e0):", "pipeline", "pipeline-opa")
	if l, ok := byKey["load"]; ok {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "%s: %d requests, %.0f/s answered, %d errors; latency p50 %s, p99 %s, p999 %s\n",
			l.Name, l.Records, l.Achieved, l.Errors, dur(l.P50), dur(l.P99), dur(l.P999))
		if l.Note != "" {
			fmt.Fprintf(w, "  %s\n", l.Note)
		}
	}
	for _, r := range results {
		if r.Mismatches > 0 {
			fmt.Fprintf(w, "\nWARNING: %s: %d records where the rules that fired differ from plain OPA's\n", r.Name, r.Mismatches)
		}
	}
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

func ratioOf(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func dur(d time.Duration) string {
	switch {
	case d == 0:
		return "–"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", us(d))
	}
	return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1e3)
}

// opaVersion is the OPA this binary embeds.
func opaVersion() string { return version.Version }
