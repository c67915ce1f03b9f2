package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-risk/vigil/runner/buildinfo"
	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/ingest"
	"github.com/vigil-risk/vigil/runner/policy"
)

func (c *cli) configCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect the configuration"}
	cmd.AddCommand(&cobra.Command{
		Use:   "print",
		Short: "Print the effective configuration (all layers applied, secrets redacted)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			out, err := cfg.YAML()
			if err != nil {
				return err
			}
			_, err = c.stdout.Write(out)
			return err
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "validate FILE...",
		Short: "Check config files as the runner would load them (defaults < files; the environment is ignored)",
		Long: `Validate loads the files over the built-in defaults exactly as the runner would
(later files win) and reports the first unknown key or bad value, naming the key and
the file — what CI runs on deploy/*.yaml. VIGIL_* variables are ignored so that the
files are checked as committed; secrets they reference are not resolved.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, files []string) error {
			if _, err := config.Load(config.Sources{Files: files, Environ: []string{}}); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "%s: ok\n", strings.Join(files, " + "))
			return nil
		},
	})
	return cmd
}

func (c *cli) versionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the runner version, the policy revision, and the Go and OPA versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info := buildinfo.Read()
			out := struct {
				buildinfo.Info
				PolicyRevision string `json:"policy_revision"`
				Policies       string `json:"policies"`
			}{Info: info, PolicyRevision: "unavailable"}
			if cfg, err := c.loadConfig(cmd.Flags(), shortcut{"policies", "policies.path"}); err == nil {
				out.Policies = cfg.Policies.Path
				if p, err := policy.Load(cmd.Context(), cfg.Policies.Path); err == nil {
					out.PolicyRevision = p.Revision
				} else {
					out.PolicyRevision = "unavailable (" + oneLine(err).Error() + ")"
				}
			}
			if asJSON {
				return writeJSON(c.stdout, out)
			}
			fmt.Fprintf(c.stdout, "vigil %s\n", info.Version)
			if info.Commit != "" {
				fmt.Fprintf(c.stdout, "  commit           %s\n", info.Commit)
			}
			fmt.Fprintf(c.stdout, "  policy revision  %s (%s)\n", out.PolicyRevision, out.Policies)
			fmt.Fprintf(c.stdout, "  go               %s\n", info.GoVersion)
			fmt.Fprintf(c.stdout, "  opa              %s\n", info.OPAVersion)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().String("policies", "", "bundle directory or .tar.gz (policies.path)")
	return cmd
}

func (c *cli) demoCmd() *cobra.Command {
	var (
		rate, fraudRate float64
		count           int
		seed            int64
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Write demo records (JSONL) with injected fraud to stdout, e.g. `vigil demo | vigil replay -`",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			gen := ingest.NewGenerator(seed, fraudRate)
			w := bufio.NewWriter(c.stdout)
			defer w.Flush()
			enc := json.NewEncoder(w)
			var tick <-chan time.Time
			if rate > 0 {
				t := time.NewTicker(time.Duration(float64(time.Second) / rate))
				defer t.Stop()
				tick = t.C
			}
			for i := 0; count == 0 || i < count; i++ {
				if err := enc.Encode(gen.Next(time.Now())); err != nil {
					return err
				}
				if tick != nil {
					if err := w.Flush(); err != nil {
						return err
					}
					select {
					case <-cmd.Context().Done():
						return nil
					case <-tick:
					}
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Float64Var(&rate, "rate", 20, "records per second (0: as fast as possible)")
	f.Float64Var(&fraudRate, "fraud-rate", 0.05, "share of records with injected fraud")
	f.IntVar(&count, "count", 0, "stop after this many records (0: never)")
	f.Int64Var(&seed, "seed", 1, "random seed; the same seed gives the same records")
	return cmd
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}
