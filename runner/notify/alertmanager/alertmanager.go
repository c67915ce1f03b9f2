// Package alertmanager pushes Vigil's alerts into a Prometheus Alertmanager
// through its API v2 (POST /api/v2/alerts), so that existing Alertmanager
// routing, silences and receivers can take them.
//
// Each alert becomes a postable alert labelled as Vigil labels it for
// routing (alertname = the rule, severity, action, owner, entity,
// entity_field, tags) plus the message's group labels and the receiver's
// own. Alertmanager resolves an alert by itself once its endsAt passes, so
// a firing alert is posted with endsAt = now + EndsAfter, set at send time,
// and every repeat of the group posts it again; a resolved alert is posted
// with endsAt = when it resolved. Alertmanager answers 200; 400 (invalid
// alerts) is a permanent *notify.VendorError with its words, 5xx is worth
// retrying.
package alertmanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/internal/vendorhttp"
	"github.com/vigil-risk/vigil/runner/notify/template"
)

// Vendor names Alertmanager in errors.
const Vendor = "alertmanager"

// DefaultEndsAfter is how long a posted firing alert stays firing in
// Alertmanager without being posted again: above the default
// repeat_interval (4h), so that it does not flap resolved between repeats.
const DefaultEndsAfter = 24 * time.Hour

// Config is one Alertmanager (or a cluster's load balancer).
type Config struct {
	URL       string            // its base URL, e.g. http://alertmanager:9093 (a path prefix is kept)
	Token     string            // a bearer token for a proxy in front of it; empty: none
	Labels    map[string]string // added to every alert, e.g. {source: vigil, env: prod}
	EndsAfter time.Duration     // a firing alert's endsAt, counted from each post (default DefaultEndsAfter)
}

// Options are what a channel needs besides its config.
type Options struct {
	Templates *template.Set    // default: the alertmanager defaults
	Client    *http.Client     // default: http.DefaultClient; the context bounds each attempt
	Now       func() time.Time // for endsAt (default time.Now)
}

// Channel posts to one Alertmanager.
type Channel struct {
	cfg      Config
	endpoint string
	tmpl     *template.Set
	client   *http.Client
	now      func() time.Time
}

var _ notify.Channel = (*Channel)(nil)

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// New checks cfg; errors name the field.
func New(cfg Config, opts Options) (*Channel, error) {
	u, err := url.Parse(cfg.URL)
	switch {
	case cfg.URL == "":
		return nil, errors.New("url: required (the Alertmanager's base URL, e.g. http://alertmanager:9093)")
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return nil, fmt.Errorf("url %s: want an absolute http(s) URL", vendorhttp.Redact(cfg.URL))
	}
	for k, v := range cfg.Labels {
		switch {
		case !labelName.MatchString(k):
			return nil, fmt.Errorf("labels: %q is not a valid label name", k)
		case v == "":
			return nil, fmt.Errorf("labels: %s: empty value (Alertmanager drops it)", k)
		}
	}
	switch {
	case cfg.EndsAfter == 0:
		cfg.EndsAfter = DefaultEndsAfter
	case cfg.EndsAfter < time.Minute:
		return nil, fmt.Errorf("ends_after %s: at least 1m (and above the route's repeat_interval)", cfg.EndsAfter)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/api/v2/alerts"
	tmpl, err := template.For("alertmanager", opts.Templates)
	if err != nil {
		return nil, err
	}
	c := &Channel{cfg: cfg, endpoint: u.String(), tmpl: tmpl, client: opts.Client, now: opts.Now}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Limits implements notify.Channel: Alertmanager sets none.
func (c *Channel) Limits() notify.Limits { return notify.Limits{} }

// Alert is a postableAlert of Alertmanager's OpenAPI.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       *time.Time        `json:"endsAt,omitempty"` // nil while firing: Send sets it
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Render implements notify.Channel: one POST with every alert of the
// message.
func (c *Channel) Render(m *notify.Message) ([]notify.Payload, error) {
	if len(m.Alerts) == 0 {
		return nil, errors.New("message has no alerts")
	}
	d := c.tmpl.Data(m)
	alerts := make([]Alert, len(d.Alerts))
	for i, a := range d.Alerts {
		labels := map[string]string(a.Labels())
		for k, v := range d.GroupLabels {
			if labelName.MatchString(k) && v != "" {
				labels[k] = v
			}
		}
		maps.Copy(labels, c.cfg.Labels)
		summary, err := c.tmpl.Alert("summary", d, a)
		if err != nil {
			return nil, err
		}
		description, err := c.tmpl.Alert("description", d, a)
		if err != nil {
			return nil, err
		}
		ann := map[string]string{
			"summary": summary, "description": description, "reason": a.Reason,
			"vigil_alert_id": strconv.FormatInt(a.ID, 10), "count": strconv.Itoa(a.Count),
			"first_seen": a.FirstSeen.UTC().Format(time.RFC3339), "last_seen": a.LastSeen.UTC().Format(time.RFC3339),
		}
		if a.Runbook != "" {
			ann["runbook_url"] = a.Runbook
		}
		start := a.CreatedAt
		if start.IsZero() {
			start = a.FirstSeen
		}
		out := Alert{Labels: labels, Annotations: ann, StartsAt: start.UTC(), GeneratorURL: a.Link}
		if !a.Firing {
			end := a.UpdatedAt
			if a.ResolvedAt != nil {
				end = *a.ResolvedAt
			}
			end = maxTime(end, start).UTC()
			out.EndsAt = &end
		}
		alerts[i] = out
	}
	b, err := vendorhttp.Marshal(alerts)
	if err != nil {
		return nil, err
	}
	return []notify.Payload{{Body: b, ContentType: "application/json", Part: 1, Parts: 1,
		Summary: template.Summary(d), IdempotencyKey: m.IdempotencyKey}}, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}

// Send implements notify.Channel: firing alerts get endsAt = now +
// EndsAfter.
func (c *Channel) Send(ctx context.Context, p notify.Payload) (bool, error) {
	var alerts []Alert
	if err := json.Unmarshal(p.Body, &alerts); err != nil {
		return false, fmt.Errorf("%s: payload: %w", Vendor, err)
	}
	ends := c.now().Add(c.cfg.EndsAfter).UTC()
	for i := range alerts {
		if alerts[i].EndsAt == nil {
			alerts[i].EndsAt = &ends
		}
	}
	b, err := vendorhttp.Marshal(alerts)
	if err != nil {
		return false, fmt.Errorf("%s: %w", Vendor, err)
	}
	var h http.Header
	if c.cfg.Token != "" {
		h = http.Header{"Authorization": {"Bearer " + c.cfg.Token}}
	}
	a, err := vendorhttp.Post(ctx, c.client, c.endpoint, "application/json", b, h)
	if err != nil {
		return true, fmt.Errorf("%s: %w", Vendor, err)
	}
	if a.OK() {
		return false, nil
	}
	// Alertmanager's errors are JSON strings (the validation errors joined).
	msg := vendorhttp.OneLine(a.Body, 512)
	var s string
	if json.Unmarshal(a.Body, &s) == nil && s != "" {
		msg = vendorhttp.OneLine([]byte(s), 512)
	}
	return vendorhttp.Failure(Vendor, a, vendorhttp.RetryStatus(a.Status), "", msg)
}
