package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/ingest"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/record"
	"github.com/vigil-risk/vigil/runner/server"
)

var runShortcuts = []shortcut{
	{"addr", "server.addr"},
	{"policies", "policies.path"},
	{"db", "store.path"},
	{"demo", "demo.enabled"},
	{"log-level", "log.level"},
	{"decision-log", "decision_log.path"},
	{"log-features", "features.log_features"},
}

func (c *cli) runCmd() *cobra.Command {
	var (
		inputs []string
		follow bool
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the runner: HTTP API, configured sources, alerts and notifications",
		Long: `Run starts the runner on its configuration: the HTTP API (POST /v1/decide,
POST /v1/records, the alert API, /metrics, /healthz, /readyz), every configured
source, alert raising and notification delivery. SIGHUP reloads the policies;
SIGINT/SIGTERM stop taking records, finish those in flight, and exit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.loadConfig(cmd.Flags(), runShortcuts...)
			if err != nil {
				return err
			}
			for _, in := range inputs {
				s := config.SourceConfig{Name: "input:" + in, Type: "file", Path: in, Format: "auto", Follow: follow}
				if in == "-" {
					s = config.SourceConfig{Name: "stdin", Type: "stdin", Format: "auto"}
				}
				cfg.Sources = append(cfg.Sources, s)
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			return c.run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&inputs, "input", "i", nil, `read records from this file ("-" for stdin); repeatable, added to the configured sources`)
	f.BoolVar(&follow, "follow", false, "with --input: keep reading as the file grows, across rotation (like tail -F)")
	f.String("addr", "", "listen address (server.addr)")
	f.String("policies", "", "bundle directory or .tar.gz (policies.path)")
	f.String("db", "", "SQLite file (store.path)")
	f.Bool("demo", false, "feed a demo stream of synthetic payments with injected fraud (demo.enabled)")
	f.String("log-level", "", "debug, info, warn or error (log.level)")
	f.String("decision-log", "", `decision log: "-" for stdout or a JSONL file (decision_log.path)`)
	f.Bool("log-features", false, "show the features and scores each decision saw in the decision log (features.log_features)")
	return cmd
}

func (c *cli) run(ctx context.Context, cfg config.Config) error {
	log := c.logger(cfg.Log)
	decisions, err := pipeline.OpenJSONL(cfg.DecisionLog.Path)
	if err != nil {
		return fmt.Errorf("decision_log.path: %w", err)
	}
	defer decisions.Close()
	var dw pipeline.DecisionWriter
	if decisions != nil {
		dw = pipeline.DecisionLog{JSONL: decisions}
	}
	if cfg.Log.Decisions != "none" {
		dw = pipeline.LogLines{Log: log, HitsOnly: cfg.Log.Decisions == "hits", Next: dw}
	}

	// The console's tap and link signer need the store the app opens.
	slot, links := &tapSlot{next: dw}, &lateSigner{}
	a, err := newApp(ctx, cfg, log, appParts{alerts: true, notify: true, decisions: slot, getenv: c.getenv, state: cfg.Features.SnapshotPath, links: links})
	if err != nil {
		return err
	}
	defer a.Close()
	if a.handling, err = newHandling(ctx, cfg, a, c.getenv, log); err != nil {
		return err
	}
	web, err := c.newWebConsole(ctx, cfg, a, slot, links, log)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("server.addr: %w", err)
	}
	srv := &http.Server{
		Handler: server.New(a.pipe, server.Options{
			MaxBodyBytes:   cfg.Server.MaxBodyBytes,
			Alerts:         a.alerts,
			Silences:       a.dispatcher.Silences(),
			Notifications:  a.dispatcher,
			Gatherer:       a.registry,
			Ready:          a.db.PingContext,
			Version:        a.info.Version,
			Log:            log,
			Auth:           web.auth,
			ProtectMetrics: cfg.Server.Auth.ProtectMetrics,
			Console:        web.console,
		}).Handler(),
		ReadTimeout:  cfg.Server.ReadTimeout,
		WriteTimeout: cfg.Server.WriteTimeout,
	}

	// background work that outlives the record sources: notifications and
	// policy reloads stop only after the sources and the API have drained.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer func() { stopBG(); wg.Wait() }()
	wg.Go(func() {
		if err := web.tap.Run(bg); err != nil {
			log.Error("console: final rule hit counts not saved", "err", err)
		}
	})
	wg.Go(func() {
		if err := a.dispatcher.Run(bg); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("notifier stopped", "err", err)
		}
	})
	a.handling.start(bg, &wg) // escalation, auto-resolve, auto-actions, the label feed
	if cfg.Policies.Watch {
		wg.Go(func() {
			if err := a.engine.Watch(bg); err != nil {
				log.Error("policy watch stopped; SIGHUP still reloads", "err", err)
			}
		})
	}
	if a.state != "" {
		wg.Go(func() {
			tick := time.NewTicker(cfg.Features.SnapshotInterval)
			defer tick.Stop()
			for {
				select {
				case <-bg.Done():
					return
				case <-tick.C:
					if err := a.saveState(); err != nil {
						log.Error("periodic feature snapshot failed", "err", err)
					}
				}
			}
		})
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	wg.Go(func() {
		for {
			select {
			case <-bg.Done():
				return
			case <-hup:
				log.Info("SIGHUP: reloading policies")
				_ = a.engine.Reload(bg) // a refused bundle is logged by the engine
			}
		}
	})

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	sources, err := c.sources(cfg, a.pipe, log)
	if err != nil {
		return err
	}
	srcCtx, stopSources := context.WithCancel(ctx)
	defer stopSources()
	var sw sync.WaitGroup
	srcErr := make(chan error, len(sources))
	for _, s := range sources {
		sw.Go(func() {
			err := a.pipe.Run(srcCtx, s, nil)
			switch {
			case err == nil:
				log.Info("source finished", "source", s.Name())
			case errors.Is(err, context.Canceled):
			default:
				log.Error("source stopped", "source", s.Name(), "err", err)
				srcErr <- fmt.Errorf("source %s: %w", s.Name(), err)
			}
		})
	}
	c.banner(cfg, a, web, ln.Addr().String())

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("stopping: draining in-flight records")
	case err := <-serveErr:
		runErr = fmt.Errorf("http server: %w", err)
	case err := <-srcErr:
		runErr = err
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Server.ShutdownTimeout)
	defer cancel()
	web.tap.Close() // live streams would hold the shutdown until its timeout
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Error("http server did not drain in time", "err", err)
	}
	stopSources()
	sw.Wait() // each source stops at a record boundary; a record read is always decided
	stopBG()
	wg.Wait()
	if err := a.saveState(); err != nil {
		log.Error("final feature snapshot failed", "err", err)
		runErr = cmp.Or(runErr, err)
	}
	log.Info("stopped")
	return runErr
}

// sources builds the configured record sources, plus the demo stream.
func (c *cli) sources(cfg config.Config, p *pipeline.Pipeline, log *slog.Logger) ([]ingest.Source, error) {
	norm := p.Normalizer
	opts := []record.ReaderOption{record.WithMaxLineBytes(cfg.Record.MaxLineBytes)}
	var out []ingest.Source
	for _, s := range cfg.Sources {
		format, err := record.ParseFormat(s.Format)
		if err != nil {
			return nil, fmt.Errorf("sources[%s].format: %w", s.Name, err)
		}
		switch s.Type {
		case "file":
			out = append(out, &ingest.File{Path: s.Path, Format: format, Follow: s.Follow, Normalizer: norm, Options: opts, Log: log})
		case "stdin":
			out = append(out, &ingest.Reader{SourceName: "stdin", R: c.stdin, Format: format, Normalizer: norm, Options: opts})
		}
	}
	if cfg.Demo.Enabled {
		out = append(out, &ingest.Demo{Rate: cfg.Demo.Rate, FraudRate: cfg.Demo.FraudRate, Seed: cfg.Demo.Seed, Normalizer: norm})
	}
	return out, nil
}

// banner tells a new user where to look.
func (c *cli) banner(cfg config.Config, a *app, web *webConsole, addr string) {
	w := c.stderr
	pol := a.pipe.Policy()
	fmt.Fprintf(w, "\nVigil %s is running — policy revision %s, %d rules (%s)\n", a.info.Version, pol.Revision, len(pol.Rules), cfg.Policies.Path)
	fmt.Fprintf(w, "  API        http://%s  (POST /v1/decide, POST /v1/records, GET /v1/alerts, /metrics)\n", addr)
	fmt.Fprintf(w, "  console    http://%s/console/\n", addr)
	if web.adminToken != "" {
		fmt.Fprintf(w, "  admin      token in %s  (log in to the console, or curl -H \"Authorization: Bearer $(cat %s)\")\n", web.adminToken, web.adminToken)
	}
	fmt.Fprintf(w, "  alerts     %s  (vigil alerts list)\n", cfg.Store.Path)
	if cfg.DecisionLog.Path != "" {
		fmt.Fprintf(w, "  decisions  %s\n", cfg.DecisionLog.Path)
	}
	if cfg.DeadLetter.Path != "" {
		fmt.Fprintf(w, "  refused    %s\n", cfg.DeadLetter.Path)
	}
	if cfg.Demo.Enabled {
		fmt.Fprintf(w, "  demo       %.0f records/s with %.0f%% injected fraud\n", cfg.Demo.Rate, cfg.Demo.FraudRate*100)
	}
	bearer := "-H \"Authorization: Bearer $TOKEN\" "
	if web.adminToken != "" {
		bearer = "-H \"Authorization: Bearer $(cat " + web.adminToken + ")\" "
	}
	fmt.Fprintf(w, "Try:\n  curl -s %shttp://%s/v1/decide -d '{\"id\":\"t-1\",\"ts\":\"2026-03-01T10:00:00Z\",\"type\":\"payment\",\"card_id\":\"ctok_7Hq2Lm9Xb4\",\"amount\":12.5,\"currency\":\"EUR\"}'\n", bearer, addr)
	fmt.Fprintf(w, "  ./bin/vigil alerts list\n\n")
}
