package bench

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestRunMeasuresEveryWorkload(t *testing.T) {
	o := Options{Policies: "../../policies", Records: 300, Runs: 1, FraudRate: 0.2, Seed: 7, LoadRate: 400, LoadFor: 300 * time.Millisecond}
	withSidecar := true
	if _, err := exec.LookPath("opa"); err != nil {
		o.OPA, withSidecar = "-", false
		t.Log("no opa binary on PATH: the sidecar workload is left out")
	}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]Result{}
	for _, r := range res {
		keys[r.Key] = r
	}
	for _, k := range []string{"floor", "opa-1", "opa", "sidecar", "decide", "pipeline-opa", "pipeline", "load"} {
		r, ok := keys[k]
		if !ok {
			t.Fatalf("no %s result in %+v", k, res)
		}
		if k == "sidecar" && !withSidecar {
			if r.Median != 0 || r.Note == "" {
				t.Errorf("sidecar left out, but %+v", r)
			}
			continue
		}
		if r.Median <= 0 || r.PerSecond() <= 0 || r.P50 <= 0 || r.P99 < r.P50 {
			t.Errorf("%s: implausible result %+v", k, r)
		}
		if k != "load" && r.AllocsPerRec <= 0 {
			t.Errorf("%s: no allocations counted: %+v", k, r)
		}
		if k != "floor" && k != "load" && r.Mismatches != 0 {
			t.Errorf("%s: %d records decided differently from plain OPA", k, r.Mismatches)
		}
	}
	if l := keys["load"]; l.Errors > 0 || l.Records != 120 {
		t.Errorf("load: %+v", l)
	}
	var out bytes.Buffer
	WriteTable(&out, res, o)
	for _, want := range []string{"records/s", "(a) floor", "(b) embedded OPA", "(e) Vigil pipeline", "vs stock embedded OPA", "POST /v1/decide at 400 requests/s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	t.Log("\n" + out.String())
}

func TestRecordsAreDeterministic(t *testing.T) {
	if !bytes.Equal(Records(100, 3, 0.1), Records(100, 3, 0.1)) {
		t.Fatal("the same seed must give the same records")
	}
	if bytes.Equal(Records(100, 3, 0.1), Records(100, 4, 0.1)) {
		t.Fatal("another seed must give other records")
	}
}
