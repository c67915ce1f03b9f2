package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vigil-risk/vigil/runner/check"
)

func (c *cli) testCmd() *cobra.Command {
	var (
		policies, fixtures, format string
		minCoverage                float64
	)
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Check the policies: strict compile, metadata, Rego unit tests with coverage, scenario fixtures",
		Long: `Test proves a bundle before it ships. It compiles every policy strictly (Rego v1),
checks each rule's METADATA, requires unit tests beside each rule, runs the Rego
unit tests with OPA's tester against a coverage gate (check.min_coverage, 80% by
default), and replays every scenario fixture (fixtures/scenarios/*.yaml) through
the real pipeline. Every failure names its file and line; the exit code is 1 when
anything fails.

--format github (the default when GITHUB_ACTIONS=true) adds an annotation on the
file and line of every failure, a job summary table and step outputs; junit and
json are for other CI systems.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.loadConfig(cmd.Flags(), shortcut{"policies", "policies.path"}, shortcut{"min-coverage", "check.min_coverage"})
			if err != nil {
				return err
			}
			out, err := check.ParseFormat(format, c.getenv, check.FormatText, check.FormatGitHub, check.FormatJUnit, check.FormatJSON)
			if err != nil {
				return fmt.Errorf("--format %w", err)
			}
			rep, err := check.Run(cmd.Context(), check.Options{
				Policies:    cfg.Policies.Path,
				Fixtures:    fixtures,
				MinCoverage: cfg.Check.MinCoverage,
				Record:      recordOptions(cfg.Record),
			})
			if err != nil {
				return err
			}
			if err := rep.Write(c.stdout, out, c.actions()); err != nil {
				return err
			}
			if !rep.OK() {
				return exitError{code: 1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&policies, "policies", "", "bundle directory (policies.path)")
	f.StringVar(&fixtures, "fixtures", "fixtures/scenarios", "scenario fixture directory (empty: none)")
	f.Float64Var(&minCoverage, "min-coverage", 0, "required Rego test coverage in percent (check.min_coverage)")
	f.StringVar(&format, "format", "", "report format: text, github, junit or json (default github under GitHub Actions, else text)")
	return cmd
}
