package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-risk/vigil/runner/feature/model"
	"github.com/vigil-risk/vigil/runner/record"
)

func (c *cli) modelCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "model", Short: "Train the models shipped in the bundle"}
	var (
		data, out, name, description, label string
		inputs                              []string
		regC                                float64
	)
	train := &cobra.Command{
		Use:   "train --data EXPORT.csv --inputs a,b,... --out policies/models/NAME.yaml",
		Short: "Fit a logistic regression on a table written by `vigil backtest --export`",
		Long: `Train fits a logistic regression — standardised inputs, L2 penalty 1/(2C), the objective
of scikit-learn's StandardScaler + LogisticRegression(C) — on a feature table written by
` + "`vigil backtest --export`" + `, and writes it as a model file for the bundle. Inputs name
table columns: "amount" is read as record.amount, "time.hour|weekday|weekend|night" are
computed from the ts column exactly as the runner does, any other name is a feature
(features.<name>). Empty cells count as 0, the model's missing value.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := os.Open(data)
			if err != nil {
				return err
			}
			defer f.Close()
			cols, labels, err := readTrainingTable(f, label, inputs)
			if err != nil {
				return fmt.Errorf("%s: %w", data, err)
			}
			tr, err := model.TrainLogistic(cols, labels, model.TrainOptions{C: regC})
			if err != nil {
				return err
			}
			froms := make([]string, len(cols))
			for i, col := range cols {
				froms[i] = col.From
			}
			file, err := tr.ModelFile(name, description, froms, map[string]string{
				"data":   data,
				"rows":   strconv.Itoa(tr.Rows),
				"frauds": strconv.Itoa(tr.Positives),
				"method": fmt.Sprintf("logistic regression, standardised inputs, L2 with C=%g, Newton's method (%d iterations), training log loss %.5f", regC, tr.Iterations, tr.LogLoss),
				"recipe": "docs/models.md",
			})
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, file, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "trained %s on %d rows (%d frauds) in %d iterations, log loss %.5f → %s\n", name, tr.Rows, tr.Positives, tr.Iterations, tr.LogLoss, out)
			return nil
		},
	}
	fl := train.Flags()
	fl.StringVar(&data, "data", "", "training table from vigil backtest --export (required)")
	fl.StringVar(&label, "label", "label", "label column (1 fraud, 0 not; rows without a label are skipped)")
	fl.StringSliceVar(&inputs, "inputs", nil, "input columns, in order (required)")
	fl.StringVar(&name, "name", "fraud_lr", "model name: input.scores.<name>")
	fl.StringVar(&description, "description", "Fraud probability from a logistic regression.", "model description")
	fl.StringVar(&out, "out", "", "model file to write (required)")
	fl.Float64Var(&regC, "c", 1, "inverse L2 strength, as scikit-learn's C")
	_ = train.MarkFlagRequired("data")
	_ = train.MarkFlagRequired("inputs")
	_ = train.MarkFlagRequired("out")
	cmd.AddCommand(train)
	return cmd
}

// readTrainingTable reads the inputs and labels of a backtest export.
func readTrainingTable(r io.Reader, label string, inputs []string) ([]model.TrainColumn, []bool, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	li, ok := col[label]
	if !ok {
		return nil, nil, fmt.Errorf("no label column %q", label)
	}
	ti, ok := col["ts"]
	if !ok {
		return nil, nil, fmt.Errorf("no ts column")
	}
	cols := make([]model.TrainColumn, len(inputs))
	idx := make([]int, len(inputs))
	for j, in := range inputs {
		idx[j] = -1
		switch {
		case strings.HasPrefix(in, "time."):
			cols[j].From = in
			if _, ok := model.TimeValue(in, time.Time{}); !ok {
				return nil, nil, fmt.Errorf("input %s: want time.hour, time.weekday, time.weekend or time.night", in)
			}
		case in == "amount":
			cols[j].From, idx[j] = "record.amount", col["amount"]
		default:
			i, ok := col[in]
			if !ok {
				return nil, nil, fmt.Errorf("input %s: no such column", in)
			}
			cols[j].From, idx[j] = "features."+in, i
		}
	}
	var labels []bool
	for line := 2; ; line++ {
		row, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		if row[li] == "" {
			continue
		}
		labels = append(labels, row[li] == "1")
		ts, err := record.ParseTime(row[ti])
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: ts: %w", line, err)
		}
		for j := range cols {
			var v float64
			if idx[j] < 0 {
				v, _ = model.TimeValue(cols[j].From, ts)
			} else if s := row[idx[j]]; s != "" {
				if v, err = strconv.ParseFloat(s, 64); err != nil {
					return nil, nil, fmt.Errorf("line %d: %s: %w", line, inputs[j], err)
				}
			}
			cols[j].Values = append(cols[j].Values, v)
		}
	}
	return cols, labels, nil
}
