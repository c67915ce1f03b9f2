package model

// logistic is a logistic regression: sigmoid(intercept + Σ coef·x).
type logistic struct {
	intercept float64
	inputs    []input
	coefs     []float64 // coefs[i] weighs inputs[i]
}

func (m *logistic) score(e env) float64 {
	z := m.intercept
	for i := range m.inputs {
		z += m.coefs[i] * m.inputs[i].value(e)
	}
	return sigmoid(z)
}
