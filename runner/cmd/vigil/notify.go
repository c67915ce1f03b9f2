package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/inhibit"
	"github.com/vigil-risk/vigil/runner/notify/receiver"
	"github.com/vigil-risk/vigil/runner/notify/route"
	"github.com/vigil-risk/vigil/runner/notify/template"
)

// newDispatcher builds the receivers, the routing tree and the inhibit
// rules from notify.* and the dispatcher over the app's database.
func (a *app) newDispatcher(ctx context.Context, getenv func(string) string, links template.LinkSigner) (*notify.Dispatcher, error) {
	recv, err := receiver.Build(a.cfg.Notify.Receivers, receiver.Options{Logger: a.log, LinkBase: a.cfg.Notify.LinkBase, Links: links, Getenv: getenv})
	if err != nil {
		return nil, err
	}
	if err := applyDelivery(recv, a.cfg.Notify.Delivery); err != nil {
		return nil, err
	}
	tree, err := routeTree(a.cfg.Notify)
	if err != nil {
		return nil, err
	}
	rules, err := inhibit.New(a.cfg.Notify.InhibitRules)
	if err != nil {
		return nil, err
	}
	d, err := notify.NewDispatcher(ctx, a.db, recv, notify.Options{
		Route:        tree,
		Inhibit:      rules,
		Labels:       map[string]string{"env": a.cfg.Env},
		LinkBase:     a.cfg.Notify.LinkBase,
		PollInterval: a.cfg.Notify.PollInterval,
		Backoff:      notify.Backoff{Base: a.cfg.Notify.BackoffBase, Max: a.cfg.Notify.BackoffMax, MaxAttempts: a.cfg.Notify.MaxAttempts},
		Logger:       a.log,
		Registerer:   a.registry,
	})
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	return d, nil
}

// routeTree builds the routing tree of notify.route over the configured
// receivers' names.
func routeTree(cfg config.NotifyConfig) (*route.Route, error) {
	names := make([]string, len(cfg.Receivers))
	for i, r := range cfg.Receivers {
		names[i] = r.Name
	}
	return route.New(cfg.Route, route.Timers{GroupWait: cfg.GroupWait, GroupInterval: cfg.GroupInterval,
		RepeatInterval: cfg.RepeatInterval}, names)
}

// applyDelivery sets how the dispatcher treats each receiver from
// notify.delivery: resolved alerts (sent unless send_resolved is false) and
// the fallback. Errors name the key.
func applyDelivery(recv []notify.Receiver, cfgs []config.DeliveryConfig) error {
	index := map[string]int{}
	for i := range recv {
		index[recv[i].Name] = i
		recv[i].SendResolved = true
	}
	var errs []error
	seen := map[string]bool{}
	for i, c := range cfgs {
		key := fmt.Sprintf("config: notify.delivery[%d]", i)
		j, ok := index[c.Receiver]
		switch {
		case c.Receiver == "":
			errs = append(errs, fmt.Errorf("%s.receiver: required", key))
			continue
		case !ok:
			errs = append(errs, fmt.Errorf("%s.receiver: unknown receiver %q (notify.receivers has: %s)", key, c.Receiver, names(recv)))
			continue
		case seen[c.Receiver]:
			errs = append(errs, fmt.Errorf("%s.receiver: %q is configured twice", key, c.Receiver))
			continue
		}
		seen[c.Receiver] = true
		if c.SendResolved != nil {
			recv[j].SendResolved = *c.SendResolved
		}
		if _, ok := index[c.Fallback]; c.Fallback != "" && (!ok || c.Fallback == c.Receiver) {
			errs = append(errs, fmt.Errorf("%s.fallback: %q is not another configured receiver", key, c.Fallback))
		}
		if c.FallbackAfter < 0 {
			errs = append(errs, fmt.Errorf("%s.fallback_after: must not be negative", key))
		}
		recv[j].Fallback, recv[j].FallbackAfter = c.Fallback, c.FallbackAfter
	}
	return errors.Join(errs...)
}

func names(recv []notify.Receiver) string {
	out := make([]string, len(recv))
	for i, r := range recv {
		out[i] = r.Name
	}
	return strings.Join(out, ", ")
}
