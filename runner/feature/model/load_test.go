package model

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

// lr builds a logistic regression file from its inputs (YAML lines, each
// one list item); the first input is on line 5.
func lr(inputs ...string) string {
	return "name: m\ntype: logistic_regression\nintercept: 0.5\ninputs:\n" + strings.Join(inputs, "\n") + "\n"
}

func TestLoadErrors(t *testing.T) {
	opts := LoadOptions{Schema: shippedSchema(t), KnownFeature: knownFeatures("card_count_1h")}
	tests := []struct {
		name string
		doc  string
		want []string // every one must appear, in order
	}{
		{"yaml syntax", "name: m\ntype: logistic_regression\n  intercept: 0\n", []string{"m.yaml:3: mapping values are not allowed in this context"}},
		{"empty file", "", []string{"m.yaml: empty file"}},
		{"not a mapping", "- a\n- b\n", []string{"m.yaml:1: want a mapping"}},
		{"unknown top-level key", "name: m\ntype: logistic_regression\nintercept: 0\ncoefs: 1\ninputs: [{from: time.hour, missing: 0, coef: 1}]\n",
			[]string{`m.yaml:4: key not used by a logistic_regression model "coefs" (want name, type, description, training, inputs, intercept)`}},
		{"lightgbm key on a regression", "name: m\ntype: logistic_regression\nintercept: 0\nfile: x.txt\ninputs: [{from: time.hour, missing: 0, coef: 1}]\n",
			[]string{`m.yaml:4: key not used by a logistic_regression model "file"`}},
		{"key twice", "name: m\nname: n\ntype: logistic_regression\nintercept: 0\ninputs: [{from: time.hour, missing: 0, coef: 1}]\n",
			[]string{`m.yaml:2: key "name" is given twice`}},
		{"bad type", "name: m\ntype: neural_net\ninputs: [{from: time.hour, missing: 0}]\n",
			[]string{`m.yaml:2: type "neural_net": want logistic_regression or lightgbm`}},
		{"no type", "name: m\ninputs: [{from: time.hour, missing: 0}]\n", []string{"m.yaml:1: type is missing"}},
		{"no name", "type: logistic_regression\nintercept: 0\ninputs: [{from: time.hour, missing: 0, coef: 1}]\n", []string{"m.yaml:1: name is missing"}},
		{"name not snake_case", "name: FraudLR\ntype: logistic_regression\nintercept: 0\ninputs: [{from: time.hour, missing: 0, coef: 1}]\n",
			[]string{`m.yaml:1: name "FraudLR": want snake_case`}},
		{"name not a string", "name: [a]\ntype: logistic_regression\nintercept: 0\ninputs: [{from: time.hour, missing: 0, coef: 1}]\n",
			[]string{"m.yaml:1: name: want a non-empty string"}},
		{"no intercept", "name: m\ntype: logistic_regression\ninputs: [{from: time.hour, missing: 0, coef: 1}]\n", []string{"m.yaml:1: intercept is missing"}},
		{"intercept not a number", "name: m\ntype: logistic_regression\nintercept: '0.5'\ninputs: [{from: time.hour, missing: 0, coef: 1}]\n",
			[]string{`m.yaml:3: intercept: want a number, got "0.5"`}},
		{"intercept infinite", "name: m\ntype: logistic_regression\nintercept: .inf\ninputs: [{from: time.hour, missing: 0, coef: 1}]\n",
			[]string{"m.yaml:3: intercept: want a finite number, got +Inf"}},
		{"no inputs", "name: m\ntype: logistic_regression\nintercept: 0\n", []string{"m.yaml:1: inputs is missing"}},
		{"empty inputs", "name: m\ntype: logistic_regression\nintercept: 0\ninputs: []\n", []string{"m.yaml:4: inputs: want a non-empty list"}},
		{"input not a mapping", lr("  - record.amount"), []string{"m.yaml:5: inputs[0]: want a mapping"}},
		{"unknown input key", lr("  - {from: record.amount, missing: 0, coef: 1, weight: 2}"),
			[]string{`m.yaml:5: inputs[0]: unknown key "weight" (want from, missing, transform, coef)`}},
		{"no from", lr("  - {missing: 0, coef: 1}"), []string{"m.yaml:5: inputs[0]: from is missing"}},
		{"from without a kind", lr("  - {from: amount, missing: 0, coef: 1}"), []string{`m.yaml:5: from "amount": want record.<field>, features.<name>, time.hour`}},
		{"from with an empty name", lr("  - {from: record., missing: 0, coef: 1}"), []string{`m.yaml:5: from "record."`}},
		{"unknown time part", lr("  - {from: time.minute, missing: 0, coef: 1}"), []string{`m.yaml:5: from "time.minute"`}},
		{"unknown source kind", lr("  - {from: context.env, missing: 0, coef: 1}"), []string{`m.yaml:5: from "context.env"`}},
		{"record field not in the schema", lr("  - {from: record.amount_eur, missing: 0, coef: 1}"),
			[]string{`m.yaml:5: from "record.amount_eur": the record schema has no field "amount_eur"`}},
		{"record alias", lr("  - {from: record.is_fraud, missing: 0, coef: 1}"),
			[]string{`m.yaml:5: from "record.is_fraud": "is_fraud" is an alias of field "fraud"`}},
		{"record string field", lr("  - {from: record.card_bin, missing: 0, coef: 1}"),
			[]string{`m.yaml:5: from "record.card_bin": field "card_bin" has type string; a model input must be a number, an integer or a boolean`}},
		{"unknown feature", lr("  - {from: features.card_count_1d, missing: 0, coef: 1}"),
			[]string{`m.yaml:5: from "features.card_count_1d": no feature "card_count_1d" is declared (features.yaml)`}},
		{"no missing", lr("  - {from: features.card_count_1h, coef: 1}"), []string{"m.yaml:5: inputs[0]: missing is required"}},
		{"missing not a number", lr("  - {from: features.card_count_1h, missing: none, coef: 1}"), []string{`m.yaml:5: missing: want a number, got "none"`}},
		{"missing NaN in a regression", lr("  - {from: features.card_count_1h, missing: .nan, coef: 1}"), []string{"m.yaml:5: missing: want a finite number"}},
		{"missing that the transforms break", lr("  - {from: features.card_count_1h, missing: -1, transform: [log1p], coef: 1}"),
			[]string{"m.yaml:5: missing: -1 becomes -Inf through the transforms"}},
		{"no coef", lr("  - {from: features.card_count_1h, missing: 0}"), []string{"m.yaml:5: inputs[0]: coef is missing"}},
		{"transform not a list", lr("  - {from: record.amount, missing: 0, transform: log1p, coef: 1}"), []string{"m.yaml:5: inputs[0].transform: want a list"}},
		{"unknown transform", lr("  - from: record.amount", "    missing: 0", "    transform: [log1p, sqrt]", "    coef: 1"),
			[]string{`m.yaml:7: unknown transform "sqrt": want log1p, bool, clip or standardize`}},
		{"unknown transform with argument", lr("  - {from: record.amount, missing: 0, transform: [{pow: 2}], coef: 1}"), []string{`m.yaml:5: unknown transform "pow"`}},
		{"log1p with an argument", lr("  - {from: record.amount, missing: 0, transform: [{log1p: 2}], coef: 1}"), []string{"m.yaml:5: transform log1p takes no argument"}},
		{"clip without bounds", lr("  - {from: record.amount, missing: 0, transform: [clip], coef: 1}"), []string{"m.yaml:5: clip: want [lo, hi]"}},
		{"clip with one bound", lr("  - {from: record.amount, missing: 0, transform: [{clip: [1]}], coef: 1}"), []string{"m.yaml:5: clip: want [lo, hi]"}},
		{"clip reversed", lr("  - {from: record.amount, missing: 0, transform: [{clip: [10, 0]}], coef: 1}"), []string{"m.yaml:5: clip: lo 10 must be less than hi 0"}},
		{"standardize std 0", lr("  - from: record.amount", "    missing: 0", "    transform:", "      - {standardize: {mean: 1, std: 0}}", "    coef: 1"),
			[]string{"m.yaml:8: standardize: std 0 must be greater than 0"}},
		{"standardize std negative", lr("  - {from: record.amount, missing: 0, transform: [{standardize: {mean: 1, std: -2}}], coef: 1}"),
			[]string{"m.yaml:5: standardize: std -2 must be greater than 0"}},
		{"standardize without std", lr("  - {from: record.amount, missing: 0, transform: [{standardize: {mean: 1}}], coef: 1}"),
			[]string{"m.yaml:5: standardize: want both mean and std"}},
		{"standardize unknown key", lr("  - {from: record.amount, missing: 0, transform: [{standardize: {mean: 1, std: 2, scale: 3}}], coef: 1}"),
			[]string{`m.yaml:5: standardize: unknown key "scale" (want mean, std)`}},
		{"model file outside the directory", "name: m\ntype: lightgbm\nfile: ../secret.txt\ninputs: [{from: time.hour, missing: 0}]\n",
			[]string{`m.yaml:3: file "../secret.txt": want a path relative to this file's directory`}},
		{"every problem at once", lr(
			"  - {from: record.amount_eur, missing: 0, coef: 1}",
			"  - {from: features.nope, missing: 0, coef: 1}",
			"  - {from: time.hour, coef: 1}"),
			[]string{`m.yaml:5: from "record.amount_eur"`, `m.yaml:6: from "features.nope"`, "m.yaml:7: inputs[2]: missing is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(fstest.MapFS{"m.yaml": {Data: []byte(tt.doc)}}, opts)
			if err == nil {
				t.Fatalf("Load succeeded, want %q", tt.want)
			}
			msg := err.Error()
			rest := msg
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("Load error:\n  %s\nwant it to contain (in order)\n  %s", msg, strings.Join(tt.want, "\n  "))
				}
				rest = rest[i+len(w):]
			}
			var me *Error
			if !errors.As(err, &me) || me.File != "m.yaml" {
				t.Errorf("error %v: want *Error naming m.yaml", err)
			}
		})
	}
}

func TestLoadDuplicateNames(t *testing.T) {
	fsys := fstest.MapFS{
		"a.yaml": {Data: []byte(lr("  - {from: time.hour, missing: 0, coef: 1}"))},
		"b.yaml": {Data: []byte("# the same name again\n" + lr("  - {from: time.night, missing: 0, coef: 1}"))},
	}
	_, err := Load(fsys, LoadOptions{})
	want := `b.yaml:2: name "m" is already used by a.yaml`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Load error = %v, want %q", err, want)
	}
}

// TestLoadChecksAreOptional: without a schema or a feature list, any field
// and feature name loads (the runner always passes both).
func TestLoadChecksAreOptional(t *testing.T) {
	doc := lr("  - {from: record.anything, missing: 0, coef: 1}", "  - {from: features.whatever, missing: 0, coef: 1}")
	set := mustLoad(t, fstest.MapFS{"m.yaml": {Data: []byte(doc)}}, LoadOptions{})
	got := set.Score(map[string]any{"anything": 2.0}, mustTime(t, "2026-01-01T00:00:00Z"), map[string]any{"whatever": -1.0})
	if !near(got["m"], sigmoid(0.5+2-1), 1e-15) {
		t.Errorf("score %v, want sigmoid(1.5)", got["m"])
	}
}
