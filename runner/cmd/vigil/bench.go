package main

import (
	"github.com/spf13/cobra"

	"github.com/vigil-risk/vigil/runner/bench"
)

func (c *cli) benchCmd() *cobra.Command {
	var o bench.Options
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure decode, stock OPA and the full pipeline on this machine (records/s, µs and allocations per record)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.loadConfig(cmd.Flags(), shortcut{"policies", "policies.path"})
			if err != nil {
				return err
			}
			o.Policies = cfg.Policies.Path
			res, err := bench.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			bench.WriteTable(c.stdout, res, o)
			return nil
		},
	}
	f := cmd.Flags()
	f.String("policies", "", "bundle directory (policies.path)")
	f.IntVar(&o.Records, "records", 20000, "records per run")
	f.IntVar(&o.Runs, "runs", 5, "runs per workload (median reported)")
	f.Float64Var(&o.FraudRate, "fraud-rate", 0.03, "share of records with injected fraud")
	f.Int64Var(&o.Seed, "seed", 42, "random seed")
	return cmd
}
