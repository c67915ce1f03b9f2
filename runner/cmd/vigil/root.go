package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vigil-risk/vigil/runner/config"
)

// cli holds what every command shares: the streams and the config flags.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	configFiles []string
	sets        []string
	cpuProfile  string
	memProfile  string
	profileFile *os.File
	environ     []string // nil: the process environment (tests inject their own)
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer, environ []string) *cobra.Command {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, environ: environ}
	root := &cobra.Command{
		Use:   "vigil",
		Short: "Real-time risk control with rules as code",
		Long: `Vigil decides every record (allow, review, block) with Rego rules, raises and
delivers alerts, and lets people handle them.

Configuration layers: built-in defaults < --config files < VIGIL_* environment
(VIGIL_SERVER__ADDR sets server.addr) < --set key=value < command flags.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringArrayVarP(&c.configFiles, "config", "c", nil, "YAML config file (repeatable; later files win)")
	pf.StringArrayVar(&c.sets, "set", nil, "set a config key, e.g. --set server.addr=127.0.0.1:9090 (repeatable)")
	pf.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the command to this file (go tool pprof)")
	pf.StringVar(&c.memProfile, "memprofile", "", "write an allocation profile at the end of the command to this file")
	root.PersistentPreRunE = func(*cobra.Command, []string) error { return c.startProfiles() }
	root.PersistentPostRunE = func(*cobra.Command, []string) error { return c.stopProfiles() }
	root.AddCommand(
		c.runCmd(),
		c.replayCmd(),
		c.backtestCmd(),
		c.modelCmd(),
		c.testCmd(),
		c.bundleCmd(),
		c.healthCmd(),
		c.alertsCmd(),
		c.auditCmd(),
		c.silencesCmd(),
		c.notificationsCmd(),
		c.routesCmd(),
		c.configCmd(),
		c.demoCmd(),
		c.benchCmd(),
		c.versionCmd(),
	)
	return root
}

// shortcut maps a command flag to the config key it sets.
type shortcut struct{ flag, key string }

// loadConfig builds the configuration from the layers and the shortcut flags
// that were given on the command line.
func (c *cli) loadConfig(fs *pflag.FlagSet, shortcuts ...shortcut) (config.Config, error) {
	flags := map[string]string{}
	for _, s := range shortcuts {
		if f := fs.Lookup(s.flag); f != nil && f.Changed {
			flags[s.key] = f.Value.String()
		}
	}
	return config.Load(config.Sources{Files: c.configFiles, Set: c.sets, Flags: flags, Environ: c.environ})
}

// logger builds the runner's logger from the config.
func (c *cli) logger(cfg config.LogConfig) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(cfg.Level)))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(c.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(c.stderr, opts))
}

// getenv reads the environment the CLI was given.
func (c *cli) getenv(key string) string {
	if c.environ == nil {
		return os.Getenv(key)
	}
	for _, kv := range c.environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

func (c *cli) startProfiles() error {
	if c.cpuProfile == "" {
		return nil
	}
	f, err := os.Create(c.cpuProfile)
	if err != nil {
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	c.profileFile = f
	return pprof.StartCPUProfile(f)
}

func (c *cli) stopProfiles() error {
	if c.profileFile != nil {
		pprof.StopCPUProfile()
		if err := c.profileFile.Close(); err != nil {
			return err
		}
		c.profileFile = nil
	}
	if c.memProfile != "" {
		f, err := os.Create(c.memProfile)
		if err != nil {
			return fmt.Errorf("--memprofile: %w", err)
		}
		defer f.Close()
		return pprof.Lookup("allocs").WriteTo(f, 0)
	}
	return nil
}
