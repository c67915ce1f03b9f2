package escalate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/config"
)

// AutoResolver resolves open alerts that went quiet, as the policies say
// (e.g. low severity with no hit for 24h → benign), by actor vigil through
// alert.Service.Apply — audited like a person's resolution. Its timer is the
// alert's own time of last hit, kept in the store: nothing to lose on a
// restart. Acknowledged and snoozed alerts are left to people.
type AutoResolver struct {
	svc      *alert.Service
	policies []config.AutoResolvePolicy
	now      func() time.Time
	interval time.Duration
	log      *slog.Logger
}

// ResolverOptions configure an AutoResolver; zero values take the defaults.
type ResolverOptions struct {
	Policies []config.AutoResolvePolicy // the first that matches an alert is its policy
	Now      func() time.Time           // wall clock (default time.Now)
	Interval time.Duration              // how often Run ticks (default 10s)
	Logger   *slog.Logger
}

// NewAutoResolver returns an AutoResolver over svc.
func NewAutoResolver(svc *alert.Service, opts ResolverOptions) *AutoResolver {
	r := &AutoResolver{svc: svc, policies: opts.Policies, now: opts.Now, interval: opts.Interval, log: opts.Logger}
	if r.now == nil {
		r.now = time.Now
	}
	if r.interval <= 0 {
		r.interval = 10 * time.Second
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r
}

// Run ticks until ctx ends. Errors are logged and retried at the next tick.
func (r *AutoResolver) Run(ctx context.Context) error {
	return run(ctx, r.interval, func(ctx context.Context) error {
		_, err := r.Tick(ctx)
		return err
	}, r.log, "auto-resolve")
}

// Tick resolves every open alert whose policy's quiet time has passed since
// its last hit, and returns how many it resolved.
func (r *AutoResolver) Tick(ctx context.Context) (int, error) {
	resolved := 0
	for i, p := range r.policies {
		now := r.now()
		f := alert.Filter{Status: alert.Open, QuietSince: now.Add(-p.QuietFor), Limit: alert.MaxLimit}
		for {
			page, err := r.svc.List(ctx, f)
			if err != nil {
				return resolved, fmt.Errorf("auto-resolve %s: %w", p.Name, err)
			}
			for j := range page {
				a := &page[j]
				if a.Snoozed(now) || r.policyIndex(a) != i {
					continue
				}
				ok, err := r.resolve(ctx, a, p)
				if err != nil {
					return resolved, err
				}
				if ok {
					resolved++
				}
			}
			if len(page) < f.Limit {
				break
			}
			f.Before = page[len(page)-1].ID
		}
	}
	return resolved, nil
}

func (r *AutoResolver) policyIndex(a *alert.Alert) int {
	for i, p := range r.policies {
		if p.Match.Matches(string(a.Severity), a.Rule, a.Tags) {
			return i
		}
	}
	return -1
}

// resolve resolves one quiet alert, unless a person acted on it meanwhile.
func (r *AutoResolver) resolve(ctx context.Context, a *alert.Alert, p config.AutoResolvePolicy) (bool, error) {
	res := alert.Resolution(p.Resolution)
	if res == "" {
		res = alert.Benign
	}
	_, err := r.svc.Apply(ctx, a.ID, alert.Action{
		Kind: alert.ActResolve, Actor: alert.SystemActor, Resolution: res, Version: a.Version,
		Comment: fmt.Sprintf("auto-resolved by policy %s: no hit for %s", p.Name, p.QuietFor),
	})
	var te *alert.TransitionError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &te), errors.Is(err, alert.ErrConflict), errors.Is(err, alert.ErrNotFound):
		r.log.Info("auto-resolve: the alert changed meanwhile; left alone", "alert", a.ID, "policy", p.Name, "err", err)
		return false, nil
	}
	return false, fmt.Errorf("auto-resolve alert %d: %w", a.ID, err)
}
