package model

import (
	"math"
	"math/rand/v2"
	"testing"
	"testing/fstest"
	"time"
)

// TestTrainLogisticRecoversTheModel fits data drawn from a known logistic
// model and checks the fit, the optimality of the penalised objective and
// that the written model file scores exactly like the fit.
func TestTrainLogisticRecoversTheModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 20000
	x1, x2 := make([]float64, n), make([]float64, n)
	labels := make([]bool, n)
	for i := range n {
		x1[i] = rng.NormFloat64()*10 + 50
		x2[i] = rng.Float64()
		eta := -2 + 0.08*(x1[i]-50) + 1.5*x2[i]
		labels[i] = rng.Float64() < 1/(1+math.Exp(-eta))
	}
	cols := []TrainColumn{{From: "record.amount", Values: x1}, {From: "features.f", Values: x2}}
	tr, err := TrainLogistic(cols, labels, TrainOptions{C: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	// coefficients are on the standardised scale: w = β·std
	if got, want := tr.Coef[0]/tr.Std[0], 0.08; math.Abs(got-want) > 0.01 {
		t.Errorf("coef of x1 = %v per unit, want ≈ %v", got, want)
	}
	if got, want := tr.Coef[1]/tr.Std[1], 1.5; math.Abs(got-want) > 0.15 {
		t.Errorf("coef of x2 = %v per unit, want ≈ %v", got, want)
	}
	if tr.Iterations > 20 {
		t.Errorf("Newton took %d iterations", tr.Iterations)
	}

	// the gradient of the penalised objective vanishes at the optimum (C=1)
	tr, err = TrainLogistic(cols, labels, TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var g0, g1, g2 float64
	for i := range n {
		z1, z2 := (x1[i]-tr.Mean[0])/tr.Std[0], (x2[i]-tr.Mean[1])/tr.Std[1]
		mu := sigmoid(tr.Intercept + tr.Coef[0]*z1 + tr.Coef[1]*z2)
		y := 0.0
		if labels[i] {
			y = 1
		}
		g0 += mu - y
		g1 += (mu - y) * z1
		g2 += (mu - y) * z2
	}
	g1 += tr.Coef[0]
	g2 += tr.Coef[1]
	if math.Abs(g0) > 1e-6 || math.Abs(g1) > 1e-6 || math.Abs(g2) > 1e-6 {
		t.Fatalf("not at the optimum: gradient (%g, %g, %g)", g0, g1, g2)
	}

	file, err := tr.ModelFile("toy_lr", "a toy", []string{"record.amount", "features.f"}, map[string]string{"recipe": "test"})
	if err != nil {
		t.Fatal(err)
	}
	set, err := Load(fstest.MapFS{"toy_lr.yaml": {Data: file}}, LoadOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, file)
	}
	for i := range 10 {
		got := set.Score(map[string]any{"amount": x1[i]}, time.Time{}, map[string]any{"f": x2[i]})["toy_lr"]
		want := sigmoid(tr.Intercept + tr.Coef[0]*(x1[i]-tr.Mean[0])/tr.Std[0] + tr.Coef[1]*(x2[i]-tr.Mean[1])/tr.Std[1])
		if math.Abs(got-want) > 1e-12 {
			t.Fatalf("row %d: the model file scores %v, the fit %v", i, got, want)
		}
	}
}

func TestTrainLogisticRefusesBadInput(t *testing.T) {
	if _, err := TrainLogistic([]TrainColumn{{From: "a", Values: []float64{1, 2}}}, []bool{true, true}, TrainOptions{}); err == nil {
		t.Error("one class only must be refused")
	}
	if _, err := TrainLogistic([]TrainColumn{{From: "a", Values: []float64{1}}}, []bool{true, false}, TrainOptions{}); err == nil {
		t.Error("a short column must be refused")
	}
}

func TestTimeValue(t *testing.T) {
	sat := time.Date(2018, 8, 11, 3, 0, 0, 0, time.UTC) // a Saturday, 03:00
	for from, want := range map[string]float64{"time.hour": 3, "time.weekday": 5, "time.weekend": 1, "time.night": 1} {
		if got, ok := TimeValue(from, sat); !ok || got != want {
			t.Errorf("TimeValue(%s) = %v, %v; want %v", from, got, ok, want)
		}
	}
	if _, ok := TimeValue("record.amount", sat); ok {
		t.Error("only time.* inputs have a time value")
	}
}
