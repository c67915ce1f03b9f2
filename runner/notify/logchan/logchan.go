// Package logchan is the simplest notification channel: one structured log
// line per notification. Useful on its own in development, and beside the
// real channels as a record of what was sent.
package logchan

import (
	"context"
	"log/slog"

	"github.com/vigil-risk/vigil/runner/notify"
)

// Notifier logs notifications.
type Notifier struct {
	log *slog.Logger
}

var _ notify.Notifier = (*Notifier)(nil)

// New returns a Notifier writing to logger (nil discards).
func New(logger *slog.Logger) *Notifier {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Notifier{log: logger}
}

// Notify writes one line: firing at warn level, resolved at info. It never fails.
func (l *Notifier) Notify(ctx context.Context, n *notify.Notification) (bool, error) {
	level := slog.LevelWarn
	if n.Kind == notify.Resolved {
		level = slog.LevelInfo
	}
	a := &n.Alert
	l.log.LogAttrs(ctx, level, "alert "+string(n.Kind),
		slog.String("receiver", n.Receiver),
		slog.String("kind", string(n.Kind)),
		slog.Int64("alert", a.ID),
		slog.String("rule", a.Rule),
		slog.String("entity", a.Entity.String()),
		slog.String("severity", string(a.Severity)),
		slog.String("reason", a.Reason),
		slog.Int("count", a.Count),
		slog.String("status", string(a.Status)),
	)
	return false, nil
}
