// Package pagerduty delivers notifications to PagerDuty's Events API v2:
// one event per alert — trigger while it fires, resolve once it resolved —
// with the alert's fingerprint as dedup_key, so that PagerDuty keeps one
// incident per alert however often Vigil repeats it.
//
// PagerDuty answers 202 on success; 400 (invalid event) is a permanent
// *notify.VendorError with PagerDuty's message and errors; 429 and 5xx are
// worth retrying. The integration (routing) key is added at send time and
// never stored with the payload.
package pagerduty

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/internal/vendorhttp"
	"github.com/vigil-risk/vigil/runner/notify/template"
)

// Vendor names PagerDuty in errors.
const Vendor = "pagerduty"

// DefaultURL is the Events API v2 endpoint.
const DefaultURL = "https://events.pagerduty.com/v2/enqueue"

// PagerDuty's limits: about 120 events a minute per integration key, 512 KB
// an event, 1,024 characters of summary, 255 of dedup_key.
const (
	PerMinute  = 120
	MaxBytes   = 512 << 10
	MaxSummary = 1024
	MaxDedup   = 255
)

// Config is one PagerDuty service integration.
type Config struct {
	RoutingKey string // the integration key: a secret
	URL        string // default DefaultURL
	Source     string // payload.source: where the events come from (default "vigil")
}

// Options are what a channel needs besides its config.
type Options struct {
	Templates *template.Set // default: the pagerduty defaults
	Client    *http.Client  // default: http.DefaultClient; the context bounds each attempt
}

// Channel is one integration.
type Channel struct {
	cfg    Config
	tmpl   *template.Set
	client *http.Client
}

var _ notify.Channel = (*Channel)(nil)

// New checks cfg; errors name the field.
func New(cfg Config, opts Options) (*Channel, error) {
	switch k := cfg.RoutingKey; {
	case k == "":
		return nil, errors.New("routing key: required (the integration key, from secret_env or secret_file)")
	case len(k) != 32 || strings.ContainsAny(k, " \t\n"):
		return nil, fmt.Errorf("routing key: want the 32-character integration key, have %d characters", len(k))
	}
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	if _, err := vendorhttp.ParseURL(cfg.URL, "an absolute http(s) URL"); err != nil {
		return nil, err
	}
	if cfg.Source == "" {
		cfg.Source = "vigil"
	}
	tmpl, err := template.For("pagerduty", opts.Templates)
	if err != nil {
		return nil, err
	}
	c := &Channel{cfg: cfg, tmpl: tmpl, client: opts.Client}
	return c, nil
}

// Limits implements notify.Channel.
func (c *Channel) Limits() notify.Limits {
	return notify.Limits{PerMinute: PerMinute, MaxBytes: MaxBytes}
}

// Event is an Events API v2 event, without its routing_key.
type Event struct {
	EventAction string   `json:"event_action"` // trigger or resolve
	DedupKey    string   `json:"dedup_key"`
	Payload     *Payload `json:"payload,omitempty"` // trigger only
	Client      string   `json:"client,omitempty"`
	ClientURL   string   `json:"client_url,omitempty"`
	Links       []Link   `json:"links,omitempty"`
}

// Payload is a trigger's payload.
type Payload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"` // critical, error, warning or info
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

// Link is a link shown on the incident.
type Link struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// Severity maps Vigil's severities onto PagerDuty's.
func Severity(s decision.Severity) string {
	switch s {
	case decision.Critical:
		return "critical"
	case decision.High:
		return "error"
	case decision.Medium:
		return "warning"
	}
	return "info"
}

// Render implements notify.Channel: one event per alert, numbered as parts
// of the message (their summaries are not: each event stands alone).
func (c *Channel) Render(m *notify.Message) ([]notify.Payload, error) {
	if len(m.Alerts) == 0 {
		return nil, errors.New("message has no alerts")
	}
	d := c.tmpl.Data(m)
	out := make([]notify.Payload, 0, len(d.Alerts))
	for i, a := range d.Alerts {
		ev := Event{EventAction: "resolve", DedupKey: template.Truncate(MaxDedup, a.Fingerprint)}
		if a.Fingerprint == "" {
			return nil, fmt.Errorf("alert %d has no fingerprint", a.ID)
		}
		summary := "resolve " + a.Rule + " " + a.Entity.String()
		if a.Firing {
			s, err := c.tmpl.Alert("summary", d, a)
			if err != nil {
				return nil, err
			}
			summary = template.Truncate(MaxSummary, s)
			ev.EventAction = "trigger"
			ev.Payload = &Payload{
				Summary: summary, Source: c.cfg.Source, Severity: Severity(a.Severity),
				Timestamp: a.FirstSeen.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
				Component: a.Rule, Group: a.Owner, Class: string(a.Action),
				CustomDetails: details(a),
			}
			ev.Client, ev.ClientURL = "Vigil", d.LinkBase
			if a.Link != "" {
				ev.Links = append(ev.Links, Link{Href: a.Link, Text: fmt.Sprintf("Alert #%d in Vigil", a.ID)})
			}
			if a.Runbook != "" {
				ev.Links = append(ev.Links, Link{Href: a.Runbook, Text: "Runbook"})
			}
		}
		b, err := vendorhttp.Marshal(ev)
		if err != nil {
			return nil, err
		}
		out = append(out, notify.Payload{Body: b, ContentType: "application/json", Part: i + 1, Parts: len(d.Alerts),
			Summary: ev.EventAction + ": " + template.Truncate(120, summary), IdempotencyKey: template.PartKey(m.IdempotencyKey, i+1, len(d.Alerts))})
	}
	return out, nil
}

func details(a template.Alert) map[string]any {
	d := map[string]any{
		"alert_id": a.ID, "rule": a.Rule, "title": a.Title, "entity": a.Entity.String(), "reason": a.Reason,
		"count": a.Count, "first_seen": a.FirstSeen.UTC().Format(time.RFC3339), "last_seen": a.LastSeen.UTC().Format(time.RFC3339),
		"severity": a.Severity, "action": a.Action,
	}
	for k, v := range map[string]string{"owner": a.Owner, "runbook": a.Runbook, "policy_revision": a.PolicyRevision, "console": a.Link} {
		if v != "" {
			d[k] = v
		}
	}
	if len(a.Tags) > 0 {
		d["tags"] = a.Tags
	}
	return d
}

// Send implements notify.Channel, adding the routing key.
func (c *Channel) Send(ctx context.Context, p notify.Payload) (bool, error) {
	b, err := vendorhttp.Prepend(p.Body, vendorhttp.Field{Name: "routing_key", Value: c.cfg.RoutingKey})
	if err != nil {
		return false, fmt.Errorf("%s: %w", Vendor, err)
	}
	a, err := vendorhttp.Post(ctx, c.client, c.cfg.URL, "application/json", b, nil)
	if err != nil {
		return true, fmt.Errorf("%s: %w", Vendor, err)
	}
	if a.OK() {
		return false, nil
	}
	var r struct {
		Status  string   `json:"status"`
		Message string   `json:"message"`
		Errors  []string `json:"errors"`
	}
	if json.Unmarshal(a.Body, &r) != nil || (r.Message == "" && r.Status == "") {
		return vendorhttp.StatusFailure(Vendor, a)
	}
	msg := r.Message
	if len(r.Errors) > 0 {
		msg += ": " + strings.Join(r.Errors, "; ")
	}
	return vendorhttp.Failure(Vendor, a, vendorhttp.RetryStatus(a.Status), r.Status, vendorhttp.OneLine([]byte(msg), 512))
}
