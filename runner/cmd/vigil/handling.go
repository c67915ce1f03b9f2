package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-risk/vigil/runner/alert/action"
	"github.com/vigil-risk/vigil/runner/alert/escalate"
	"github.com/vigil-risk/vigil/runner/alert/labelfeed"
	"github.com/vigil-risk/vigil/runner/config"
)

// handling is what `vigil run` does with alerts on its own (docs/handling.md):
// escalation and auto-resolve timers, auto-actions within the
// blast-radius guard, and analysts' labels into the features. Each keeps its
// state in the store and runs under the run's background context, ticking
// every handling.interval.
type handling struct {
	escalator *escalate.Escalator    // nil: no escalation policies
	resolver  *escalate.AutoResolver // nil: no auto-resolve policies
	actions   *action.Executor
	labels    *labelfeed.Feeder // resolutions from any process sharing the store
}

// newHandling builds the app's handling; the app must have its store,
// alert service and notifier (vigil run).
func newHandling(ctx context.Context, cfg config.Config, a *app, getenv func(string) string, log *slog.Logger) (*handling, error) {
	if a.db == nil || a.alerts == nil {
		return nil, errors.New("handling: the app has no alert store")
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	hc := cfg.Handling
	h := &handling{}
	var err error
	if len(hc.Escalation) > 0 {
		h.escalator, err = escalate.New(ctx, a.db, a.alerts, escalate.Options{
			Policies: hc.Escalation, Interval: hc.Interval, Logger: log, Registerer: a.registry,
		})
		if err != nil {
			return nil, fmt.Errorf("handling.escalation: %w", err)
		}
	}
	h.labels, err = labelfeed.New(ctx, a.db, labelfeed.Options{Apply: a.feedLabel, Interval: hc.Interval, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("handling: %w", err)
	}
	if len(hc.AutoResolve) > 0 {
		h.resolver = escalate.NewAutoResolver(a.alerts, escalate.ResolverOptions{Policies: hc.AutoResolve, Interval: hc.Interval, Logger: log})
	}
	secrets, err := actionSecrets(hc.AutoActions, getenv)
	if err != nil {
		return nil, err
	}
	h.actions, err = action.New(ctx, a.db, a.alerts, action.Options{
		Config: hc.AutoActions, Secrets: secrets, RuleAction: a.ruleAction, Interval: hc.Interval, Logger: log, Registerer: a.registry,
	})
	if err != nil {
		return nil, fmt.Errorf("handling.auto_actions: %w", err)
	}
	return h, nil
}

// actionSecrets resolves each endpoint's signing secret.
func actionSecrets(c config.AutoActionsConfig, getenv func(string) string) (map[string]string, error) {
	out := map[string]string{}
	for i, e := range c.Endpoints {
		if e.SecretEnv == "" && e.SecretFile == "" {
			continue // unsigned
		}
		s, err := config.ReceiverConfig{SecretEnv: e.SecretEnv, SecretFile: e.SecretFile}.Secret(getenv)
		if err != nil {
			return nil, fmt.Errorf("handling.auto_actions.endpoints[%d] (%s).%w", i, e.Name, err)
		}
		out[e.Name] = s
	}
	return out, nil
}

// start runs each part in its own goroutine until ctx ends.
func (h *handling) start(ctx context.Context, wg *sync.WaitGroup) {
	if h.escalator != nil {
		wg.Go(func() { _ = h.escalator.Run(ctx) })
	}
	if h.resolver != nil {
		wg.Go(func() { _ = h.resolver.Run(ctx) })
	}
	wg.Go(func() { _ = h.actions.Run(ctx) })
	wg.Go(func() { _ = h.labels.Run(ctx) })
}

// kick tells the notifier, the auto-actions and the label feed that alerts
// changed: a new alert's action, or an analyst's label, should not wait for
// the next tick.
func (a *app) kick() {
	if a.dispatcher != nil {
		a.dispatcher.Kick()
	}
	if h := a.handling; h != nil {
		if h.actions != nil {
			h.actions.Kick()
		}
		if h.labels != nil {
			h.labels.Kick()
		}
	}
}

// ruleAction is the auto_action a rule's metadata names.
func (a *app) ruleAction(rule string) string {
	r, ok := a.engine.Current().Rule(rule)
	if !ok {
		return ""
	}
	return r.AutoAction
}

// guardCmd is `vigil alerts guard`: the blast-radius guards of auto-actions.
func (c *cli) guardCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "guard",
		Short: "Show or re-arm the blast-radius guards of auto-actions",
		Long: `A rule whose alerts ask for more than handling.auto_actions.guard.limit
auto-actions per guard.interval trips its guard: its actions stop, its alerts
are downgraded to review and guard.notify is told. The guard re-arms after
guard.reset_after, or with "vigil alerts guard reset RULE" (audited on the
alert that tripped it).`,
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "List the guards of the rules that ever had an auto-action",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withActions(cmd, func(ctx context.Context, x *action.Executor) error {
				gs, err := x.Guards(ctx)
				if err != nil {
					return err
				}
				if asJSON(cmd) {
					return writeJSON(c.stdout, map[string]any{"guards": nonNil(gs)})
				}
				if len(gs) == 0 {
					fmt.Fprintln(c.stdout, "no rule has had an auto-action yet")
					return nil
				}
				tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "RULE\tSTATE\tRECENT\tTRIPS\tTRIPPED BY ALERT\tRE-ARMS")
				for _, g := range gs {
					state, alertID, rearm := "armed", "-", "-"
					if g.Tripped {
						state = "tripped " + g.TrippedAt.Local().Format(time.DateTime)
						alertID = fmt.Sprint(g.TripAlertID)
						rearm = "by hand"
						if g.RearmAt != nil {
							rearm = g.RearmAt.Local().Format(time.DateTime)
						}
					}
					fmt.Fprintf(tw, "%s\t%s\t%d/%d per %s\t%d\t%s\t%s\n", g.Rule, state, g.Recent, g.Limit, g.Interval, g.Trips, alertID, rearm)
				}
				return tw.Flush()
			})
		},
	}
	var reason string
	reset := &cobra.Command{
		Use:   "reset RULE",
		Short: "Re-arm a rule's tripped guard (recorded on the alert that tripped it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withActions(cmd, func(ctx context.Context, x *action.Executor) error {
				ok, err := x.Reset(ctx, args[0], actor(cmd), reason)
				if err != nil {
					return err
				}
				if asJSON(cmd) {
					return writeJSON(c.stdout, map[string]any{"rule": args[0], "rearmed": ok})
				}
				if !ok {
					fmt.Fprintf(c.stdout, "the guard of rule %s is not tripped; nothing to do\n", args[0])
					return nil
				}
				fmt.Fprintf(c.stdout, "the guard of rule %s is re-armed: its auto-actions resume with the next alert\n", args[0])
				return nil
			})
		},
	}
	reset.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit trail)")
	cmd.AddCommand(status, reset)
	return cmd
}

// withActions opens the configured store's auto-actions for one command;
// nothing is called from it.
func (c *cli) withActions(cmd *cobra.Command, fn func(context.Context, *action.Executor) error) error {
	return c.withStore(cmd, func(ctx context.Context, cfg config.Config, db *sql.DB) error {
		svc, err := openAlerts(ctx, db)
		if err != nil {
			return err
		}
		x, err := action.New(ctx, db, svc, action.Options{Config: cfg.Handling.AutoActions})
		if err != nil {
			return fmt.Errorf("handling.auto_actions: %w", err)
		}
		return fn(ctx, x)
	})
}
