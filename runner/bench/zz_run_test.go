package bench

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

func TestZZBench(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ZZN"))
	o := Options{Policies: "../../policies", Records: n, Runs: 3, FraudRate: 0.03, Seed: 42, LoadFor: 5 * time.Second, OPA: "/tmp/opa-built"}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	WriteTable(os.Stdout, res, o)
}
