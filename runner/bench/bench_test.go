package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunMeasuresEveryWorkload(t *testing.T) {
	o := Options{Policies: "../../policies", Records: 200, Runs: 1, FraudRate: 0.2, Seed: 7}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 {
		t.Fatalf("want 4 workloads, got %d", len(res))
	}
	for _, r := range res {
		if r.Records != 200 || r.Median <= 0 || r.PerSecond() <= 0 || r.AllocsPerRec <= 0 {
			t.Errorf("%s: implausible result %+v", r.Name, r)
		}
	}
	var out bytes.Buffer
	WriteTable(&out, res, o)
	for _, want := range []string{"records/s", "(a) JSON decode", "(b) stock OPA", "(c) Vigil pipeline"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRecordsAreDeterministic(t *testing.T) {
	if !bytes.Equal(Records(100, 3, 0.1), Records(100, 3, 0.1)) {
		t.Fatal("the same seed must give the same records")
	}
	if bytes.Equal(Records(100, 3, 0.1), Records(100, 4, 0.1)) {
		t.Fatal("another seed must give other records")
	}
}
