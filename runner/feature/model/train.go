package model

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// TrainColumn is one input of a logistic regression being trained: where the
// runner will read it (`from`, as in a model file) and its training values.
type TrainColumn struct {
	From   string
	Values []float64
}

// TrainOptions tune TrainLogistic.
type TrainOptions struct {
	C       float64 // inverse L2 strength, as scikit-learn's LogisticRegression(C=...); 1 when zero
	MaxIter int     // Newton steps; 50 when zero
	Tol     float64 // stop when the largest step is below this; 1e-10 when zero
}

// Trained is a fitted logistic regression and how the fit went.
type Trained struct {
	Intercept  float64
	Coef       []float64
	Mean, Std  []float64 // the standardisation of each column
	Iterations int
	LogLoss    float64 // mean log loss on the training rows
	Rows       int
	Positives  int
}

// TrainLogistic fits P(fraud) = sigmoid(b + Σ wᵢ·zᵢ) with zᵢ the column
// standardised by its training mean and (population) standard deviation,
// minimising Σ log loss + ‖w‖²/(2C) — the objective of scikit-learn's
// StandardScaler + LogisticRegression(C), the handbook's baseline — by
// Newton's method, which reaches the same optimum exactly (the objective is
// strictly convex). The intercept is not penalised.
func TrainLogistic(cols []TrainColumn, labels []bool, o TrainOptions) (*Trained, error) {
	n := len(labels)
	p := len(cols)
	if n == 0 || p == 0 {
		return nil, errors.New("train: no rows or no inputs")
	}
	if o.C == 0 {
		o.C = 1
	}
	if o.MaxIter == 0 {
		o.MaxIter = 50
	}
	if o.Tol == 0 {
		o.Tol = 1e-10
	}
	t := &Trained{Mean: make([]float64, p), Std: make([]float64, p), Coef: make([]float64, p), Rows: n}
	for _, l := range labels {
		if l {
			t.Positives++
		}
	}
	if t.Positives == 0 || t.Positives == n {
		return nil, errors.New("train: the labels must hold both classes")
	}
	// standardise: z[i][j], row-major
	z := make([]float64, n*p)
	for j, c := range cols {
		if len(c.Values) != n {
			return nil, fmt.Errorf("train: input %s has %d values for %d labels", c.From, len(c.Values), n)
		}
		var sum float64
		for _, v := range c.Values {
			sum += v
		}
		mean := sum / float64(n)
		var ss float64
		for _, v := range c.Values {
			ss += (v - mean) * (v - mean)
		}
		std := math.Sqrt(ss / float64(n))
		if std == 0 {
			std = 1 // a constant column, as StandardScaler treats it
		}
		t.Mean[j], t.Std[j] = mean, std
		for i, v := range c.Values {
			z[i*p+j] = (v - mean) / std
		}
	}
	// Newton on θ = (b, w₁..w_p)
	d := p + 1
	theta := make([]float64, d)
	grad := make([]float64, d)
	hess := make([]float64, d*d)
	x := make([]float64, d)
	for it := 1; it <= o.MaxIter; it++ {
		t.Iterations = it
		clear(grad)
		clear(hess)
		for i := range n {
			x[0] = 1
			copy(x[1:], z[i*p:(i+1)*p])
			eta := 0.0
			for k := range d {
				eta += theta[k] * x[k]
			}
			mu := sigmoid(eta)
			y := 0.0
			if labels[i] {
				y = 1
			}
			w := mu * (1 - mu)
			for k := range d {
				grad[k] += (mu - y) * x[k]
				xk := w * x[k]
				for l := k; l < d; l++ {
					hess[k*d+l] += xk * x[l]
				}
			}
		}
		for k := 1; k < d; k++ { // the L2 term, not on the intercept
			grad[k] += theta[k] / o.C
			hess[k*d+k] += 1 / o.C
		}
		for k := range d {
			for l := 0; l < k; l++ {
				hess[k*d+l] = hess[l*d+k]
			}
		}
		step, err := solveCholesky(hess, grad, d)
		if err != nil {
			return nil, fmt.Errorf("train: iteration %d: %w", it, err)
		}
		largest := 0.0
		for k := range d {
			theta[k] -= step[k]
			largest = max(largest, math.Abs(step[k]))
		}
		if largest < o.Tol {
			break
		}
	}
	t.Intercept = theta[0]
	copy(t.Coef, theta[1:])
	var loss float64
	for i := range n {
		eta := theta[0]
		for j := range p {
			eta += theta[j+1] * z[i*p+j]
		}
		mu := sigmoid(eta)
		if labels[i] {
			loss -= math.Log(max(mu, 1e-300))
		} else {
			loss -= math.Log(max(1-mu, 1e-300))
		}
	}
	t.LogLoss = loss / float64(n)
	return t, nil
}

// solveCholesky solves A·x = b for a symmetric positive-definite A (d×d).
func solveCholesky(a, b []float64, d int) ([]float64, error) {
	l := make([]float64, d*d)
	for i := range d {
		for j := 0; j <= i; j++ {
			sum := a[i*d+j]
			for k := range j {
				sum -= l[i*d+k] * l[j*d+k]
			}
			if i == j {
				if sum <= 0 {
					return nil, errors.New("the Hessian is not positive definite")
				}
				l[i*d+i] = math.Sqrt(sum)
			} else {
				l[i*d+j] = sum / l[j*d+j]
			}
		}
	}
	y := make([]float64, d)
	for i := range d {
		sum := b[i]
		for k := range i {
			sum -= l[i*d+k] * y[k]
		}
		y[i] = sum / l[i*d+i]
	}
	x := make([]float64, d)
	for i := d - 1; i >= 0; i-- {
		sum := y[i]
		for k := i + 1; k < d; k++ {
			sum -= l[k*d+i] * x[k]
		}
		x[i] = sum / l[i*d+i]
	}
	return x, nil
}

// ModelFile renders a trained regression as a model file for the bundle.
func (t *Trained) ModelFile(name, description string, froms []string, training map[string]string) ([]byte, error) {
	type standardize struct {
		Mean float64 `yaml:"mean"`
		Std  float64 `yaml:"std"`
	}
	type input struct {
		From      string                   `yaml:"from"`
		Missing   float64                  `yaml:"missing"`
		Transform []map[string]standardize `yaml:"transform"`
		Coef      float64                  `yaml:"coef"`
	}
	doc := struct {
		Name        string            `yaml:"name"`
		Type        string            `yaml:"type"`
		Description string            `yaml:"description"`
		Training    map[string]string `yaml:"training"`
		Intercept   float64           `yaml:"intercept"`
		Inputs      []input           `yaml:"inputs"`
	}{Name: name, Type: "logistic_regression", Description: description, Training: training, Intercept: t.Intercept}
	for j, from := range froms {
		doc.Inputs = append(doc.Inputs, input{
			From: from, Missing: 0, Coef: t.Coef[j],
			Transform: []map[string]standardize{{"standardize": {Mean: t.Mean[j], Std: t.Std[j]}}},
		})
	}
	return yaml.Marshal(doc)
}

// TimeValue computes a time.* input for training exactly as Score does.
func TimeValue(from string, t time.Time) (float64, bool) {
	part, ok := strings.CutPrefix(from, "time.")
	if !ok {
		return 0, false
	}
	kind, ok := timePart(part)
	if !ok {
		return 0, false
	}
	u := t.UTC()
	return source{kind: kind}.read(env{hour: u.Hour(), weekday: (int(u.Weekday()) + 6) % 7})
}
