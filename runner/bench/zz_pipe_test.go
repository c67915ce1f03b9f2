package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/feature"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/policy"
	"github.com/vigil-risk/vigil/runner/record"
)

func TestZZPipe(t *testing.T) {
	ctx := context.Background()
	o := Options{Policies: "../../policies", Records: 20000, Runs: 1, FraudRate: 0.03, Seed: 42, OPA: "-"}
	o.defaults()
	e, err := newEnv(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	engine, _ := policy.NewEngine(ctx, o.Policies, nil)
	for _, mode := range []string{"alerts", "noalerts", "alerts", "noalerts"} {
		var pipe *pipeline.Pipeline
		switch mode {
		case "alerts":
			p, db, _ := e.newPipeline(ctx, engine, fmt.Sprintf("%s/%s-%d.db", e.dir, mode, time.Now().UnixNano()))
			defer db.Close()
			pipe = p
		case "noalerts":
			fe, _ := feature.NewEngine(engine.Current().Features, nil, feature.Options{})
			pipe, _ = pipeline.New(engine, pipeline.Options{Features: fe, Decisions: pipeline.DecisionLog{JSONL: pipeline.NewJSONL(io.Discard, nil)}})
		}
		src := &timedSource{data: e.data, norm: pipe.Normalizer, starts: make([]time.Time, len(e.lines))}
		f, _ := os.Create("/tmp/zz/pipe-" + mode + ".cpu")
		pprof.StartCPUProfile(f)
		c0 := cpuTime()
		st := time.Now()
		pipe.Run(ctx, src, func(record.Record, *decision.Decision) {})
		w := time.Since(st)
		c := cpuTime() - c0
		pprof.StopCPUProfile()
		fmt.Printf("%-10s wall %.1fµs/rec cpu %.1fµs/rec %.0f/s\n", mode, float64(w.Microseconds())/20000, float64(c.Microseconds())/20000, 20000/w.Seconds())
	}
}
