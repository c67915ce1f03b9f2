// Package webhook delivers notifications as signed JSON POSTs.
//
// Each request carries Content-Type: application/json, User-Agent: vigil,
// Idempotency-Key (the same on every retry of one notification),
// X-Vigil-Timestamp and, when a secret is set, X-Vigil-Signature (see Sign
// and Verify). Transport errors, timeouts, 408, 429 and 5xx are retried;
// any other non-2xx status is a permanent failure.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/notify"
)

// Config is one webhook receiver.
type Config struct {
	URL     string            // http or https
	Secret  string            // HMAC key, already resolved from secret_env/secret_file; empty: unsigned
	Timeout time.Duration     // per attempt (0: the dispatcher's default)
	Headers map[string]string // extra request headers, e.g. an Authorization
}

// Options are shared by every webhook receiver.
type Options struct {
	Client   *http.Client     // default: a plain client; the context bounds each attempt
	LinkBase string           // the console's base URL; the payload links to LinkBase/alerts/<id>
	Now      func() time.Time // signing clock (default time.Now)
}

// Notifier posts notifications to one URL.
type Notifier struct {
	cfg      Config
	target   string // scheme://host/path: for messages, without query secrets
	client   *http.Client
	linkBase string
	now      func() time.Time
}

var _ notify.Notifier = (*Notifier)(nil)

// reserved headers are set by the Notifier and cannot be configured.
var reserved = map[string]bool{
	"Content-Type": true, "User-Agent": true, "Idempotency-Key": true, "Content-Length": true, "Host": true,
	TimestampHeader: true, SignatureHeader: true,
}

// New checks cfg (errors name the field: url, timeout, headers) and returns
// its Notifier.
func New(cfg Config, opts Options) (*Notifier, error) {
	u, err := url.Parse(cfg.URL)
	switch {
	case cfg.URL == "":
		return nil, errors.New("url: required")
	case err != nil:
		return nil, fmt.Errorf("url: %w", err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return nil, fmt.Errorf("url %q: want an absolute http or https URL", redact(u))
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("timeout %s: must not be negative", cfg.Timeout)
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
	n := &Notifier{cfg: cfg, target: redact(u), client: opts.Client, linkBase: strings.TrimRight(opts.LinkBase, "/"), now: opts.Now}
	if n.client == nil {
		n.client = &http.Client{}
	}
	if n.now == nil {
		n.now = time.Now
	}
	return n, nil
}

// redact drops what may carry credentials (user info, query, fragment).
func redact(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// PayloadVersion is the version of the Payload schema.
const PayloadVersion = "1"

// Payload is the JSON body of a delivery.
type Payload struct {
	Version        string            `json:"version"`
	Kind           notify.Kind       `json:"kind"` // firing or resolved
	Receiver       string            `json:"receiver"`
	ID             int64             `json:"id"` // the alert's
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
	Link           string            `json:"link,omitempty"`
}

// NewPayload is the body sent for n; link is empty without a link base.
func NewPayload(n *notify.Notification, linkBase string) Payload {
	a := &n.Alert
	p := Payload{
		Version: PayloadVersion, Kind: n.Kind, Receiver: n.Receiver,
		ID: a.ID, Fingerprint: a.Fingerprint, Rule: a.Rule, Title: a.Title, Severity: a.Severity, Action: a.Action,
		Entity: a.Entity, Status: a.Status, Resolution: a.Resolution, Reason: a.Reason, Count: a.Count,
		FirstSeen: a.FirstSeen, LastSeen: a.LastSeen, Owner: a.Owner, Runbook: a.Runbook, Tags: a.Tags,
		PolicyRevision: a.PolicyRevision,
	}
	if linkBase != "" {
		p.Link = strings.TrimRight(linkBase, "/") + "/alerts/" + strconv.FormatInt(a.ID, 10)
	}
	return p
}

// Notify implements notify.Notifier.
func (w *Notifier) Notify(ctx context.Context, n *notify.Notification) (bool, error) {
	body, err := json.Marshal(NewPayload(n, w.linkBase))
	if err != nil {
		return false, fmt.Errorf("webhook %s: encode payload: %w", w.target, err)
	}
	if w.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.cfg.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("webhook %s: %w", w.target, err)
	}
	for k, v := range w.cfg.Headers {
		req.Header.Set(k, v)
	}
	ts := w.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vigil")
	req.Header.Set("Idempotency-Key", n.IdempotencyKey)
	req.Header.Set(TimestampHeader, strconv.FormatInt(ts, 10))
	if w.cfg.Secret != "" {
		req.Header.Set(SignatureHeader, Sign(w.cfg.Secret, ts, body))
	}

	resp, err := w.client.Do(req)
	if err != nil {
		// *url.Error repeats the full URL, query secrets included: keep only the cause.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return true, fmt.Errorf("webhook POST %s: %w", w.target, err)
	}
	defer func() {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
		resp.Body.Close()
	}()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	retry := resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
	return retry, fmt.Errorf("webhook POST %s: HTTP %s: %s", w.target, resp.Status, snippet(resp.Body))
}

// snippet is the start of a response body, on one line, for an error message.
func snippet(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 256))
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "�")), " ")
	if s == "" {
		return "(empty body)"
	}
	if len(b) == 256 {
		s += "…"
	}
	return s
}
