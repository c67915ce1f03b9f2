package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/trace"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/feature"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/policy"
	"github.com/vigil-risk/vigil/runner/server"
)

func TestZZLoad(t *testing.T) {
	ctx := context.Background()
	o := Options{Policies: "../../policies", Records: 20000, Runs: 1, FraudRate: 0.03, Seed: 42, OPA: "-"}
	o.defaults()
	e, err := newEnv(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	for _, mode := range []string{"alerts", "noalerts", "nofeatures"} {
		engine, _ := policy.NewEngine(ctx, o.Policies, nil)
		var pipe *pipeline.Pipeline
		switch mode {
		case "alerts":
			p, db, _ := e.newPipeline(ctx, engine, e.dir+"/"+mode+".db")
			defer db.Close()
			pipe = p
		case "noalerts":
			fe, _ := feature.NewEngine(engine.Current().Features, nil, feature.Options{})
			pipe, _ = pipeline.New(engine, pipeline.Options{Features: fe, Decisions: pipeline.DecisionLog{JSONL: pipeline.NewJSONL(io.Discard, nil)}})
		case "nofeatures":
			pipe, _ = pipeline.New(engine, pipeline.Options{Decisions: pipeline.DecisionLog{JSONL: pipeline.NewJSONL(io.Discard, nil)}})
		}
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		srv := &http.Server{Handler: server.New(pipe, server.Options{}).Handler()}
		go srv.Serve(l)
		url := "http://" + l.Addr().String() + "/v1/decide"
		Load(ctx, LoadOptions{URL: url, Bodies: e.lines[:200], Rate: 2000, For: 200 * time.Millisecond})
		if mode == "alerts" {
			f, _ := os.Create("/tmp/zz/trace.out")
			trace.Start(f)
		}
		lr, err := Load(ctx, LoadOptions{URL: url, Bodies: e.lines[200:], Rate: 2000, For: 4 * time.Second})
		if mode == "alerts" {
			trace.Stop()
		}
		fmt.Printf("%-10s %+v %v\n", mode, lr, err)
		srv.Close()
	}
}
