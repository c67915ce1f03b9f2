package model

import (
	"math"
	"os"
	"slices"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vigil-risk/vigil/runner/record"
)

// fraudLR is the brief's example model, extended to every input kind and
// transform. Its scores in TestScoreLogistic were computed independently
// (Python's math module) from the same coefficients.
const fraudLR = `# policies/models/fraud_lr.yaml
name: fraud_lr
type: logistic_regression
description: Fraud probability from amount, time of day and velocity.
training: {recipe: tools/train/README.md, data: "FDH 2018-07-25..31", notes: "test model"}
intercept: -4.21
inputs:
  - from: record.amount
    missing: 0
    transform:
      - log1p
      - {clip: [0, 10]}
      - {standardize: {mean: 3.2, std: 1.7}}
    coef: 0.93
  - {from: time.night, missing: 0, coef: 0.12}
  - {from: time.weekend, missing: 0, coef: 0.3}
  - from: time.hour
    missing: 12
    transform: [{standardize: {mean: 12, std: 6}}]
    coef: -0.2
  - {from: time.weekday, missing: 0, coef: 0.05}
  - {from: features.card_tx_count_1d, missing: 1, transform: [{clip: [0, 20]}], coef: 0.08}
  - {from: features.card_seen_before, missing: 0, transform: [bool], coef: -0.7}
  - {from: record.new_destination, missing: 0, coef: 0.45}
`

func mustLoad(t testing.TB, fsys fstest.MapFS, opts LoadOptions) *Set {
	t.Helper()
	s, err := Load(fsys, opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return s
}

// shippedSchema is the bundle's record schema.
func shippedSchema(t testing.TB) *record.Schema {
	t.Helper()
	data, err := os.ReadFile("../../../policies/schema.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := record.ParseSchema(data, "policies/schema.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func knownFeatures(names ...string) func(string) bool {
	return func(name string) bool { return slices.Contains(names, name) }
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }
