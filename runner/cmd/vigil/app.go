package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/buildinfo"
	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/feature"
	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/template"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/policy"
	"github.com/vigil-risk/vigil/runner/record"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// app is a runner assembled from its configuration: the policy engine, the
// store, alerts, notifications and the pipeline over them.
type app struct {
	cfg        config.Config
	log        *slog.Logger
	info       buildinfo.Info
	engine     *policy.Engine
	db         *sql.DB
	alerts     *alert.Service
	dispatcher *notify.Dispatcher
	pipe       *pipeline.Pipeline
	features   *feature.Engine
	state      string // feature snapshot file: restored at start, written by saveState
	registry   *prometheus.Registry
	closers    []func() error
	handling   *handling // vigil run: escalation, auto-resolve, auto-actions (handling.go)
}

// appParts says which parts a command needs.
type appParts struct {
	alerts       bool // open the store and raise alerts
	notify       bool // deliver notifications (only `vigil run`)
	decisions    pipeline.DecisionWriter
	onAlerts     func([]alert.Alert)
	getenv       func(string) string // resolves secret_env; os.Getenv when nil
	state        string              // feature snapshot file to restore and save; empty: fresh state
	differential bool                // evaluate every record both ways and fail on a difference
	links        template.LinkSigner // signs the act-from-chat links in messages (vigil run); nil: none
}

func newApp(ctx context.Context, cfg config.Config, log *slog.Logger, parts appParts) (_ *app, err error) {
	a := &app{cfg: cfg, log: log, info: buildinfo.Read(), registry: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	a.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	popts, err := verification(cfg.Policies)
	if err != nil {
		return nil, err
	}
	popts = append(popts, policy.WithRunnerVersion(a.info.Version))
	if parts.differential {
		popts = append(popts, policy.WithDifferential())
	}
	a.engine, err = policy.NewEngine(ctx, cfg.Policies.Path, log, popts...)
	if err != nil {
		return nil, fmt.Errorf("policies %s: %w", cfg.Policies.Path, oneLine(err))
	}
	a.features, err = feature.NewEngine(a.engine.Current().Features,
		feature.NewMemoryStore(feature.MemoryOptions{MaxEntities: cfg.Features.MaxEntities}),
		feature.Options{Lateness: cfg.Features.Lateness, Registerer: a.registry, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	if a.state = parts.state; a.state != "" {
		restored, err := a.features.RestoreFile(a.state)
		if err != nil {
			return nil, fmt.Errorf("features: restoring %s: %w", a.state, err)
		}
		if restored {
			log.Info("feature state restored", "path", a.state)
		}
	}
	opts := pipeline.Options{
		Features:      a.features,
		LogFeatures:   cfg.Features.LogFeatures,
		Env:           cfg.Env,
		RunnerVersion: a.info.Version,
		Record:        recordOptions(cfg.Record),
		Decisions:     parts.decisions,
		OnAlerts:      parts.onAlerts,
		Metrics:       pipeline.NewMetrics(a.registry),
		Log:           log,
	}
	dl, err := pipeline.OpenJSONL(cfg.DeadLetter.Path)
	if err != nil {
		return nil, fmt.Errorf("dead_letter.path: %w", err)
	}
	if dl != nil {
		a.closers = append(a.closers, dl.Close)
		opts.DeadLetters = pipeline.DeadLetterLog{JSONL: dl}
	}

	if parts.alerts {
		if a.db, err = sqldb.Open(ctx, cfg.Store.Path); err != nil {
			return nil, fmt.Errorf("store.path: %w", err)
		}
		a.closers = append(a.closers, a.db.Close)
		store, err := alertsqlite.New(ctx, a.db)
		if err != nil {
			return nil, fmt.Errorf("alert store: %w", err)
		}
		if parts.notify {
			getenv := parts.getenv
			if getenv == nil {
				getenv = os.Getenv
			}
			if a.dispatcher, err = a.newDispatcher(ctx, getenv, parts.links); err != nil {
				return nil, err
			}
		}
		min, _ := decision.ParseSeverity(cfg.Alerts.MinSeverity) // validated with the config
		aopts := alert.Options{MinSeverity: min, KeepRecords: cfg.Alerts.KeepRecords, RuleInfo: a.ruleInfo,
			Registerer: a.registry, Kick: a.kick} // per-rule metrics; the notifier, label feed and auto-actions, where they run (handling.go)
		if parts.notify {
			aopts.Logger = log // a live runner says when it raises an alert; a replay only counts them
		}
		if a.alerts, err = alert.NewService(store, aopts); err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		opts.Alerts = a.alerts
	}
	if a.pipe, err = pipeline.New(a.engine, opts); err != nil {
		return nil, err
	}
	return a, nil
}

// ruleInfo gives alerts the owner, runbook and tags of the rule that raised them.
func (a *app) ruleInfo(name string) (alert.RuleInfo, bool) {
	r, ok := a.engine.Current().Rule(name)
	if !ok {
		return alert.RuleInfo{}, false
	}
	return alert.RuleInfo{Owner: r.Owner, Runbook: r.Runbook, Tags: r.Tags}, true
}

// saveState writes the feature snapshot, if the app keeps one.
func (a *app) saveState() error {
	if a.state == "" {
		return nil
	}
	start := time.Now()
	if err := a.features.SnapshotFile(a.state); err != nil {
		return fmt.Errorf("features: snapshot %s: %w", a.state, err)
	}
	a.log.Debug("feature state saved", "path", a.state, "took", time.Since(start))
	return nil
}

// Close releases what the app opened, last opened first.
func (a *app) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}

func recordOptions(c config.RecordConfig) record.Options {
	return record.Options{Unknown: record.Unknown(c.UnknownFields), Rename: c.Rename, Defaults: c.Defaults}
}

// oneLine keeps a multi-problem policy error on one line for the terminal;
// `vigil test` lists them one per line instead.
func oneLine(err error) error {
	var errs policy.Errors
	if errors.As(err, &errs) {
		return errors.New(errs.OneLine())
	}
	return err
}
