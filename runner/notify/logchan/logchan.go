// Package logchan is the simplest channel: one structured log line per
// alert of each message. Useful on its own in development, and beside the
// real channels as a record of what was sent.
package logchan

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/internal/vendorhttp"
	"github.com/vigil-risk/vigil/runner/notify/template"
)

// Channel logs messages.
type Channel struct {
	log  *slog.Logger
	tmpl *template.Set
}

var _ notify.Channel = (*Channel)(nil)

// New returns a Channel writing to logger (nil discards).
func New(logger *slog.Logger) *Channel {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tmpl, err := template.New("log", template.Options{})
	if err != nil {
		panic("logchan: " + err.Error()) // the embedded common templates are broken: a build defect, caught by tests
	}
	return &Channel{log: logger, tmpl: tmpl}
}

// Limits implements notify.Channel: a log takes anything.
func (c *Channel) Limits() notify.Limits { return notify.Limits{} }

// entry is what Render keeps for Send to log.
type entry struct {
	Receiver string `json:"receiver"`
	Status   string `json:"status"`
	Digest   int    `json:"digest,omitempty"`
	Alerts   []line `json:"alerts"`
	Key      string `json:"key"`
}

type line struct {
	ID       int64  `json:"id"`
	Rule     string `json:"rule"`
	Entity   string `json:"entity"`
	Severity string `json:"severity"`
	Status   string `json:"status"`
	Reason   string `json:"reason"`
	Count    int    `json:"count"`
	Link     string `json:"link,omitempty"`
}

// Render implements notify.Channel.
func (c *Channel) Render(m *notify.Message) ([]notify.Payload, error) {
	return c.tmpl.Render(m, 0, "application/json", func(d *template.Data, _ int) ([]byte, error) {
		e := entry{Receiver: d.Receiver, Status: d.Status, Digest: d.Digest, Key: m.IdempotencyKey, Alerts: make([]line, len(d.Alerts))}
		for i, a := range d.Alerts {
			e.Alerts[i] = line{ID: a.ID, Rule: a.Rule, Entity: a.Entity.String(), Severity: string(a.Severity),
				Status: string(a.Status), Reason: a.Reason, Count: a.Count, Link: a.Link}
		}
		return vendorhttp.Marshal(e)
	})
}

// Send implements notify.Channel: one line per alert, firing ones at warn
// level, resolved ones at info. It fails only on a payload it did not make.
func (c *Channel) Send(ctx context.Context, p notify.Payload) (bool, error) {
	var e entry
	if err := json.Unmarshal(p.Body, &e); err != nil {
		return false, fmt.Errorf("log: payload: %w", err)
	}
	for _, a := range e.Alerts {
		level, msg := slog.LevelWarn, "alert firing"
		if a.Status == "resolved" {
			level, msg = slog.LevelInfo, "alert resolved"
		}
		attrs := []slog.Attr{
			slog.String("receiver", e.Receiver),
			slog.Int64("alert", a.ID),
			slog.String("rule", a.Rule),
			slog.String("entity", a.Entity),
			slog.String("severity", a.Severity),
			slog.String("reason", a.Reason),
			slog.Int("count", a.Count),
			slog.String("status", a.Status),
		}
		if a.Link != "" {
			attrs = append(attrs, slog.String("link", a.Link))
		}
		if e.Digest > 1 {
			attrs = append(attrs, slog.Int("digest", e.Digest))
		}
		c.log.LogAttrs(ctx, level, msg, attrs...)
	}
	return false, nil
}
