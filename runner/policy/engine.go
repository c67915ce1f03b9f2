package policy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Engine serves the current Policy and swaps in a new one atomically: the
// per-record path reads it without a lock, a reload compiles off that path.
type Engine struct {
	path     string
	log      *slog.Logger
	opts     []Option
	debounce time.Duration

	current atomic.Pointer[Policy]

	mu     sync.Mutex // serialises reloads; guards onSwap
	onSwap []func(old, new *Policy)
}

// NewEngine loads the bundle at path; this first load must succeed.
func NewEngine(ctx context.Context, path string, log *slog.Logger, opts ...Option) (*Engine, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts = append(opts[:len(opts):len(opts)], WithLogger(log))
	p, err := Load(ctx, path, opts...)
	if err != nil {
		return nil, fmt.Errorf("load policy bundle %s: %w", path, err)
	}
	e := &Engine{path: path, log: log, opts: opts, debounce: newOptions(opts).debounce}
	e.current.Store(p)
	log.Info("policy loaded", "path", path, "revision", p.Revision, "rules", len(p.Rules))
	return e, nil
}

// Current returns the policy to decide with. It never blocks.
func (e *Engine) Current() *Policy { return e.current.Load() }

// OnSwap registers f to run after each successful swap, in registration
// order, one swap at a time. f must not call Reload.
func (e *Engine) OnSwap(f func(old, new *Policy)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onSwap = append(e.onSwap, f)
}

// Reload loads and compiles the bundle again and swaps it in. When the new
// bundle is broken it logs one line saying so, keeps serving the old one and
// returns the problems. An unchanged bundle is not swapped.
func (e *Engine) Reload(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.current.Load()
	start := time.Now()
	p, err := Load(ctx, e.path, e.opts...)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		e.log.Error(fmt.Sprintf("policy reload refused, still serving revision %s: %s", old.Revision, oneLine(err)), "path", e.path)
		return err
	}
	if p.digest == old.digest && p.Revision == old.Revision {
		e.log.Debug("policy unchanged", "path", e.path, "revision", p.Revision)
		return nil
	}
	e.current.Store(p)
	e.log.Info("policy swapped", "path", e.path, "revision", p.Revision, "previous", old.Revision,
		"rules", len(p.Rules), "took", time.Since(start).Round(time.Millisecond))
	for _, f := range e.onSwap {
		f(old, p)
	}
	return nil
}

func oneLine(err error) string {
	var errs Errors
	if errors.As(err, &errs) {
		return errs.OneLine()
	}
	return err.Error()
}
