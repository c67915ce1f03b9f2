package model

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/dmitryikh/leaves"
)

// gbt is a LightGBM model evaluated by leaves, a pure Go predictor.
type gbt struct {
	inputs []input
	trees  *leaves.Ensemble // predicts the raw margin
	// sigmoid > 0 turns the margin into a probability the way LightGBM's
	// binary objective does: 1 / (1 + exp(-sigmoid·margin)). 0 keeps it raw.
	sigmoid float64
	bufs    sync.Pool // *gbtBuf, so that scoring allocates nothing
}

type gbtBuf struct {
	x   []float64
	out [1]float64
}

func (m *gbt) score(e env) float64 {
	b := m.bufs.Get().(*gbtBuf)
	for i := range m.inputs {
		b.x[i] = m.inputs[i].value(e)
	}
	err := m.trees.Predict(b.x, 0, b.out[:])
	margin := b.out[0]
	m.bufs.Put(b)
	if err != nil {
		// Unreachable: Load checked the feature count and the single output.
		// NaN makes the policy refuse the score loudly rather than guess.
		return math.NaN()
	}
	if m.sigmoid > 0 {
		return sigmoid(m.sigmoid * margin)
	}
	return margin
}

func newGBT(inputs []input, trees *leaves.Ensemble, sigmoid float64) *gbt {
	m := &gbt{inputs: inputs, trees: trees, sigmoid: sigmoid}
	m.bufs.New = func() any { return &gbtBuf{x: make([]float64, len(inputs))} }
	return m
}

// lgModel is a LightGBM text model read and checked.
type lgModel struct {
	trees     *leaves.Ensemble // raw margins
	features  int
	objective string
}

// readLightGBM parses a LightGBM text model (format v2, v3 or v4) with a
// single output: binary classification or regression.
func readLightGBM(data []byte) (*lgModel, error) {
	header, err := lgHeader(data)
	if err != nil {
		return nil, err
	}
	version := header["version"]
	switch version {
	case "v2", "v3":
	case "v4":
		// LightGBM 4 writes v4; leaves knows v3. The header keys and tree
		// fields leaves reads are the same in both. The one v4-era addition
		// that changes predictions, linear trees, is refused below.
		data = bytes.Replace(data, []byte("\nversion=v4\n"), []byte("\nversion=v3\n"), 1)
	default:
		return nil, fmt.Errorf("LightGBM model format version %q is not supported (want v2, v3 or v4)", version)
	}
	maxIdx, err := strconv.Atoi(header["max_feature_idx"])
	if err != nil || maxIdx < 0 {
		return nil, fmt.Errorf("LightGBM model header: max_feature_idx %q is not a feature index", header["max_feature_idx"])
	}
	if nc := header["num_class"]; nc != "1" {
		return nil, fmt.Errorf("LightGBM model has num_class=%s: only single-output models (binary, regression) are supported", nc)
	}
	if bytes.Contains(data, []byte("\nis_linear=1")) {
		return nil, fmt.Errorf("LightGBM model has linear trees (linear_tree=true), which the Go predictor cannot evaluate")
	}
	trees, err := leaves.LGEnsembleFromReader(bufio.NewReader(bytes.NewReader(data)), false)
	if err != nil {
		return nil, fmt.Errorf("LightGBM model: %w", err)
	}
	if trees.NOutputGroups() != 1 {
		return nil, fmt.Errorf("LightGBM model has %d outputs, want 1", trees.NOutputGroups())
	}
	return &lgModel{trees: trees, features: maxIdx + 1, objective: header["objective"]}, nil
}

// lgHeader reads the key=value lines between the first line ("tree") and the
// first blank line.
func lgHeader(data []byte) (map[string]string, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<24) // feature_names and feature_infos lines can be long
	if !sc.Scan() || strings.TrimSpace(sc.Text()) != "tree" {
		return nil, fmt.Errorf(`not a LightGBM text model: the first line is not "tree"`)
	}
	header := map[string]string{}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			break
		}
		k, v, _ := strings.Cut(line, "=")
		header[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("LightGBM model header: %w", err)
	}
	return header, nil
}

// binarySigmoid returns the sigmoid parameter of a binary objective
// ("binary sigmoid:1"), or false when the objective is not binary.
func binarySigmoid(objective string) (float64, bool) {
	fields := strings.Fields(objective)
	if len(fields) == 0 || fields[0] != "binary" {
		return 0, false
	}
	for _, f := range fields[1:] {
		if v, ok := strings.CutPrefix(f, "sigmoid:"); ok {
			s, err := strconv.ParseFloat(v, 64)
			if err != nil || !(s > 0) || !finite(s) {
				return 0, false
			}
			return s, true
		}
	}
	return 1, true // LightGBM's default
}
