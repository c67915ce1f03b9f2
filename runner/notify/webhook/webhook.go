// Package webhook delivers notifications as signed JSON POSTs: one Payload
// per message (or per part, when a message is larger than the receiver's
// max_bytes), in Vigil's own schema.
//
// Each request carries Content-Type: application/json, User-Agent: vigil,
// Idempotency-Key (the same on every retry of one part, across restarts),
// X-Vigil-Timestamp and, when a secret is set, X-Vigil-Signature (see Sign
// and Verify). Transport errors, timeouts, 408, 429 and 5xx are retried
// (honouring Retry-After); any other non-2xx status is a permanent
// *notify.VendorError.
package webhook

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/internal/vendorhttp"
	"github.com/vigil-risk/vigil/runner/notify/template"
)

// Vendor names webhooks in errors.
const Vendor = "webhook"

// Config is one webhook receiver.
type Config struct {
	URL      string            // http or https; may carry a token (then give it through url_secret_env)
	Secret   string            // HMAC key, already resolved from secret_env/secret_file; empty: unsigned
	Timeout  time.Duration     // per attempt (0: the dispatcher's)
	Headers  map[string]string // extra request headers
	MaxBytes int               // the largest body the receiver takes; 0: no limit
}

// Options are shared by every webhook receiver.
type Options struct {
	Client   *http.Client     // default: http.DefaultClient; the context bounds each attempt
	LinkBase string           // the console's base URL, for messages that carry none
	Now      func() time.Time // signing clock (default time.Now)
}

// Channel posts to one URL.
type Channel struct {
	cfg    Config
	target string // scheme://host, for messages
	tmpl   *template.Set
	client *http.Client
	now    func() time.Time
}

var _ notify.Channel = (*Channel)(nil)

// reserved headers are set by the Channel and cannot be configured.
var reserved = map[string]bool{
	"Content-Type": true, "User-Agent": true, "Idempotency-Key": true, "Content-Length": true, "Host": true,
	TimestampHeader: true, SignatureHeader: true,
}

// New checks cfg (errors name the field: url, timeout, headers, max_bytes)
// and returns its Channel.
func New(cfg Config, opts Options) (*Channel, error) {
	if _, err := vendorhttp.ParseURL(cfg.URL, "an absolute http or https URL"); err != nil {
		return nil, err
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("timeout %s: must not be negative", cfg.Timeout)
	}
	if cfg.MaxBytes < 0 || (cfg.MaxBytes > 0 && cfg.MaxBytes < 4096) {
		return nil, fmt.Errorf("max_bytes %d: want 0 (no limit) or at least 4096", cfg.MaxBytes)
	}
	for k, v := range cfg.Headers {
		switch {
		case !httpguts.ValidHeaderFieldName(k):
			return nil, fmt.Errorf("headers: %q is not a valid header name", k)
		case reserved[http.CanonicalHeaderKey(k)]:
			return nil, fmt.Errorf("headers: %s is set by vigil and cannot be configured", http.CanonicalHeaderKey(k))
		case !httpguts.ValidHeaderFieldValue(v):
			return nil, fmt.Errorf("headers: %s: value has characters not allowed in a header", k)
		}
	}
	if opts.LinkBase != "" {
		if b, err := url.Parse(opts.LinkBase); err != nil || b.Scheme == "" || b.Host == "" {
			return nil, fmt.Errorf("link base %q: want an absolute URL", opts.LinkBase)
		}
	}
	tmpl, err := template.New("webhook", template.Options{LinkBase: opts.LinkBase})
	if err != nil {
		return nil, err
	}
	c := &Channel{cfg: cfg, target: vendorhttp.Redact(cfg.URL), tmpl: tmpl, client: opts.Client, now: opts.Now}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Limits implements notify.Channel.
func (c *Channel) Limits() notify.Limits { return notify.Limits{MaxBytes: c.cfg.MaxBytes} }

// PayloadVersion is the version of the Payload schema.
const PayloadVersion = "2"

// Payload is the JSON body of a delivery: one message, or one part of it.
type Payload struct {
	Version     string            `json:"version"`
	Receiver    string            `json:"receiver"`
	Status      notify.Kind       `json:"status"` // firing when any alert of the group fires
	GroupKey    string            `json:"group_key"`
	GroupLabels map[string]string `json:"group_labels,omitempty"`
	Digest      int               `json:"digest,omitempty"` // > 1: several messages merged while the receiver was rate limited
	Part        int               `json:"part"`             // 1-based
	Parts       int               `json:"parts"`            // > 1 when the message was split to fit max_bytes
	Total       int               `json:"total"`            // alerts in the whole message
	Alerts      []Alert           `json:"alerts"`           // this part's, firing first
}

// Alert is one alert of a Payload.
type Alert struct {
	ID             int64             `json:"id"`
	Fingerprint    string            `json:"fingerprint"`
	Rule           string            `json:"rule"`
	Title          string            `json:"title"`
	Severity       decision.Severity `json:"severity"`
	Action         decision.Action   `json:"action"`
	Entity         decision.Entity   `json:"entity"`
	Status         alert.Status      `json:"status"`
	Resolution     alert.Resolution  `json:"resolution,omitempty"`
	Reason         string            `json:"reason"`
	Count          int               `json:"count"`
	FirstSeen      time.Time         `json:"first_seen"`
	LastSeen       time.Time         `json:"last_seen"`
	Owner          string            `json:"owner,omitempty"`
	Runbook        string            `json:"runbook,omitempty"`
	Tags           []string          `json:"tags,omitempty"`
	PolicyRevision string            `json:"policy_revision,omitempty"`
	Link           string            `json:"link,omitempty"` // the alert in the console
}

// Render implements notify.Channel.
func (c *Channel) Render(m *notify.Message) ([]notify.Payload, error) {
	return c.tmpl.Render(m, c.cfg.MaxBytes, "application/json", func(d *template.Data, _ int) ([]byte, error) {
		p := Payload{Version: PayloadVersion, Receiver: m.Receiver, Status: notify.Kind(d.Status), GroupKey: m.GroupKey,
			GroupLabels: d.GroupLabels, Digest: d.Digest, Part: d.Part, Parts: d.Parts, Total: d.Total,
			Alerts: make([]Alert, len(d.Alerts))}
		for i, a := range d.Alerts {
			p.Alerts[i] = Alert{ID: a.ID, Fingerprint: a.Fingerprint, Rule: a.Rule, Title: a.Title, Severity: a.Severity,
				Action: a.Action, Entity: a.Entity, Status: a.Status, Resolution: a.Resolution, Reason: a.Reason, Count: a.Count,
				FirstSeen: a.FirstSeen, LastSeen: a.LastSeen, Owner: a.Owner, Runbook: a.Runbook, Tags: a.Tags,
				PolicyRevision: a.PolicyRevision, Link: a.Link}
		}
		return vendorhttp.Marshal(p)
	})
}

// Send implements notify.Channel, signing the body now.
func (c *Channel) Send(ctx context.Context, p notify.Payload) (bool, error) {
	if c.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	h := make(http.Header, len(c.cfg.Headers)+3)
	for k, v := range c.cfg.Headers {
		h.Set(k, v)
	}
	ts := c.now().Unix()
	h.Set("Idempotency-Key", p.IdempotencyKey)
	h.Set(TimestampHeader, strconv.FormatInt(ts, 10))
	if c.cfg.Secret != "" {
		h.Set(SignatureHeader, Sign(c.cfg.Secret, ts, p.Body))
	}
	a, err := vendorhttp.Post(ctx, c.client, c.cfg.URL, "application/json", p.Body, h)
	if err != nil {
		return true, fmt.Errorf("%s: %w", Vendor, err)
	}
	if a.OK() {
		return false, nil
	}
	return vendorhttp.StatusFailure(Vendor, a)
}
