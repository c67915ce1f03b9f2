package model

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// breastCancer is the upstream LightGBM fixture (testdata/lightgbm/README.md):
// the model, its YAML, and the held-out rows with LightGBM's predictions.
type breastCancer struct {
	model, yaml []byte
	rows        []map[string]any // features x00 … x29
	want        []float64        // LightGBM's probabilities
}

func loadBreastCancer(t testing.TB) breastCancer {
	t.Helper()
	read := func(name string) []byte {
		data, err := os.ReadFile("testdata/lightgbm/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	bc := breastCancer{model: read("lg_dart_breast_cancer.model"), yaml: read("breast_cancer.yaml")}
	for i, line := range strings.Split(strings.TrimSpace(string(read("breast_cancer_test.tsv"))), "\n") {
		cols := strings.Split(line, "\t")
		if len(cols) != 30 {
			t.Fatalf("breast_cancer_test.tsv:%d: %d columns, want 30", i+1, len(cols))
		}
		row := make(map[string]any, len(cols))
		for j, c := range cols {
			x, err := strconv.ParseFloat(c, 64)
			if err != nil {
				t.Fatalf("breast_cancer_test.tsv:%d: %v", i+1, err)
			}
			row[fmt.Sprintf("x%02d", j)] = x
		}
		bc.rows = append(bc.rows, row)
	}
	for i, line := range strings.Split(strings.TrimSpace(string(read("lg_dart_breast_cancer_true_predictions.txt"))), "\n") {
		p, err := strconv.ParseFloat(line, 64)
		if err != nil {
			t.Fatalf("predictions:%d: %v", i+1, err)
		}
		bc.want = append(bc.want, p)
	}
	if len(bc.rows) != len(bc.want) || len(bc.rows) == 0 {
		t.Fatalf("%d rows, %d predictions", len(bc.rows), len(bc.want))
	}
	return bc
}

func (bc breastCancer) fs(model []byte, yaml string) fstest.MapFS {
	return fstest.MapFS{
		"breast_cancer.yaml":          {Data: []byte(yaml)},
		"lg_dart_breast_cancer.model": {Data: model},
	}
}

// asV4 is the model in LightGBM 4's format: the header says v4 and every
// tree has an is_linear=0 field. (Its tree_sizes no longer match the
// trees; leaves does not read them.)
func asV4(model []byte) []byte {
	v4 := bytes.Replace(model, []byte("\nversion=v2\n"), []byte("\nversion=v4\n"), 1)
	return bytes.ReplaceAll(v4, []byte("\nshrinkage="), []byte("\nis_linear=0\nshrinkage="))
}

func TestScoreLightGBMMatchesLightGBM(t *testing.T) {
	bc := loadBreastCancer(t)
	tests := []struct {
		name   string
		model  []byte
		output string
		want   func(p float64) float64
	}{
		{"probability", bc.model, "probability", func(p float64) float64 { return p }},
		{"format v4", asV4(bc.model), "probability", func(p float64) float64 { return p }},
		{"raw margin", bc.model, "raw", func(p float64) float64 { return math.Log(p / (1 - p)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(string(bc.yaml), "output: probability", "output: "+tt.output, 1)
			set := mustLoad(t, bc.fs(tt.model, doc), LoadOptions{KnownFeature: func(name string) bool {
				return strings.HasPrefix(name, "x")
			}})
			for i, row := range bc.rows {
				got := set.Score(nil, time.Time{}, row)["breast_cancer_gbt"]
				if want := tt.want(bc.want[i]); !near(got, want, 1e-9) {
					t.Errorf("row %d: score %.17g, LightGBM %.17g", i, got, want)
				}
			}
		})
	}
}

// TestLightGBMMissingNaN: missing: .nan hands absent inputs to the trees'
// own missing-value routing; a finite missing value is used as given.
func TestLightGBMMissingNaN(t *testing.T) {
	bc := loadBreastCancer(t)
	row := map[string]any{}
	for k, v := range bc.rows[0] {
		row[k] = v
	}
	delete(row, "x22") // the first split of the first tree
	filled := map[string]any{}
	for k, v := range row {
		filled[k] = v
	}
	filled["x22"] = 0.0

	zero := mustLoad(t, bc.fs(bc.model, string(bc.yaml)), LoadOptions{})
	if got, want := zero.Score(nil, time.Time{}, row), zero.Score(nil, time.Time{}, filled); got["breast_cancer_gbt"] != want["breast_cancer_gbt"] {
		t.Errorf("missing: 0 scored an absent x22 as %v, but x22 = 0 as %v", got, want)
	}
	nanDoc := strings.Replace(string(bc.yaml), "{from: features.x22, missing: 0}", "{from: features.x22, missing: .nan}", 1)
	nan := mustLoad(t, bc.fs(bc.model, nanDoc), LoadOptions{})
	got := nan.Score(nil, time.Time{}, row)["breast_cancer_gbt"]
	if !finite(got) || got <= 0 || got >= 1 {
		t.Errorf("missing: .nan: score %v, want a probability", got)
	}
	withNaN := map[string]any{}
	for k, v := range row {
		withNaN[k] = v
	}
	withNaN["x22"] = math.NaN()
	if again := nan.Score(nil, time.Time{}, withNaN)["breast_cancer_gbt"]; again != got {
		t.Errorf("a NaN value and an absent one must score alike: %v vs %v", again, got)
	}
}

func TestLoadLightGBMErrors(t *testing.T) {
	bc := loadBreastCancer(t)
	yaml := string(bc.yaml)
	inputsLine := 10 // "inputs:" in breast_cancer.yaml
	tests := []struct {
		name  string
		model []byte
		yaml  string
		want  string
	}{{
		name:  "one input too few",
		model: bc.model,
		yaml:  strings.Replace(yaml, "  - {from: features.x29, missing: 0}\n", "", 1),
		want:  fmt.Sprintf("breast_cancer.yaml:%d: inputs: 29 given, but lg_dart_breast_cancer.model has 30 features", inputsLine+1),
	}, {
		name:  "one input too many",
		model: bc.model,
		yaml:  yaml + "  - {from: features.x30, missing: 0}\n",
		want:  "inputs: 31 given, but lg_dart_breast_cancer.model has 30 features",
	}, {
		name:  "file absent",
		model: bc.model,
		yaml:  strings.Replace(yaml, "file: lg_dart_breast_cancer.model", "file: nope.txt", 1),
		want:  `breast_cancer.yaml:8: file "nope.txt": open nope.txt: file does not exist`,
	}, {
		name:  "not a LightGBM file",
		model: []byte("{\"not\": \"a model\"}\n"),
		yaml:  yaml,
		want:  `breast_cancer.yaml:8: file "lg_dart_breast_cancer.model": not a LightGBM text model`,
	}, {
		name:  "truncated model",
		model: bc.model[:len(bc.model)/3],
		yaml:  yaml,
		want:  `breast_cancer.yaml:8: file "lg_dart_breast_cancer.model": LightGBM model: `,
	}, {
		name:  "unknown format version",
		model: bytes.Replace(bc.model, []byte("version=v2"), []byte("version=v9"), 1),
		yaml:  yaml,
		want:  `LightGBM model format version "v9" is not supported`,
	}, {
		name:  "linear trees",
		model: bytes.Replace(asV4(bc.model), []byte("\nis_linear=0\n"), []byte("\nis_linear=1\n"), 1),
		yaml:  yaml,
		want:  "linear trees",
	}, {
		name:  "multiclass",
		model: bytes.Replace(bc.model, []byte("\nnum_class=1\n"), []byte("\nnum_class=3\n"), 1),
		yaml:  yaml,
		want:  "num_class=3: only single-output models",
	}, {
		name:  "probability of a regression",
		model: bytes.Replace(bc.model, []byte("objective=binary sigmoid:1"), []byte("objective=regression"), 1),
		yaml:  yaml,
		want:  `breast_cancer.yaml:9: output: probability needs a binary objective, and lg_dart_breast_cancer.model has objective "regression": use output: raw`,
	}, {
		name:  "unknown output",
		model: bc.model,
		yaml:  strings.Replace(yaml, "output: probability", "output: odds", 1),
		want:  `breast_cancer.yaml:9: output "odds": want probability or raw`,
	}, {
		name:  "coef on a tree input",
		model: bc.model,
		yaml:  strings.Replace(yaml, "{from: features.x03, missing: 0}", "{from: features.x03, missing: 0, coef: 1}", 1),
		want:  fmt.Sprintf(`breast_cancer.yaml:%d: inputs[3]: unknown key "coef" (want from, missing, transform)`, inputsLine+4),
	}, {
		name:  "intercept on a tree model",
		model: bc.model,
		yaml:  strings.Replace(yaml, "output: probability", "output: probability\nintercept: 1", 1),
		want:  `breast_cancer.yaml:10: key not used by a lightgbm model "intercept"`,
	}, {
		name:  "no file",
		model: bc.model,
		yaml:  strings.Replace(yaml, "file: lg_dart_breast_cancer.model\n", "", 1),
		want:  "breast_cancer.yaml:4: file is missing",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(bc.fs(tt.model, tt.yaml), LoadOptions{})
			if err == nil {
				t.Fatalf("Load succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load error:\n  %v\nwant it to contain\n  %s", err, tt.want)
			}
		})
	}
}
