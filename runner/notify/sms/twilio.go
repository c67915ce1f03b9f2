package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/internal/vendorhttp"
	"github.com/vigil-risk/vigil/runner/notify/template"
)

// TwilioVendor names Twilio in errors.
const TwilioVendor = "twilio"

// TwilioEndpoint is Twilio's REST API.
const TwilioEndpoint = "https://api.twilio.com"

// MaxTwilioBody is the longest text Twilio sends.
const MaxTwilioBody = 1600

// TwilioConfig is one Twilio sender.
type TwilioConfig struct {
	AccountSID          string   // AC…
	AuthToken           string   // a secret (or an API key's secret, with APIKeySID)
	APIKeySID           string   // SK…, to authenticate with an API key instead of the account's token
	From                string   // an E.164 number or alphanumeric sender id; or
	MessagingServiceSID string   // MG…, a messaging service that picks the sender
	To                  []string // E.164 numbers
	Endpoint            string   // default TwilioEndpoint
}

// Twilio sends through Twilio's Messages API.
type Twilio struct {
	cfg    TwilioConfig
	target string
	tmpl   *template.Set
	client *http.Client
}

var _ notify.Channel = (*Twilio)(nil)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// NewTwilio checks cfg; errors name the field.
func NewTwilio(cfg TwilioConfig, opts Options) (*Twilio, error) {
	switch {
	case !strings.HasPrefix(cfg.AccountSID, "AC"):
		return nil, fmt.Errorf("account_sid %q: want the account's SID (AC…)", cfg.AccountSID)
	case cfg.AuthToken == "":
		return nil, errors.New("auth token: required (from secret_env or secret_file)")
	case cfg.APIKeySID != "" && !strings.HasPrefix(cfg.APIKeySID, "SK"):
		return nil, fmt.Errorf("api_key_sid %q: want an API key SID (SK…)", cfg.APIKeySID)
	case (cfg.From == "") == (cfg.MessagingServiceSID == ""):
		return nil, errors.New("from: set from or messaging_service_sid, one of them")
	case len(cfg.To) == 0:
		return nil, errors.New("to: at least one phone number")
	}
	for i, n := range cfg.To {
		if !e164.MatchString(n) {
			return nil, fmt.Errorf("to[%d] %q: want an E.164 number such as +15558675310", i, n)
		}
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = TwilioEndpoint
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("url %q: want an absolute http(s) URL", cfg.Endpoint)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/2010-04-01/Accounts/" + url.PathEscape(cfg.AccountSID) + "/Messages.json"
	tmpl, err := opts.templates()
	if err != nil {
		return nil, err
	}
	return &Twilio{cfg: cfg, target: u.String(), tmpl: tmpl, client: opts.Client}, nil
}

// Limits implements notify.Channel: a long code sends about one a second.
func (c *Twilio) Limits() notify.Limits { return notify.Limits{PerSecond: 1} }

// Render implements notify.Channel: one request per recipient, the same
// text (at most 1,600 characters) to each.
func (c *Twilio) Render(m *notify.Message) ([]notify.Payload, error) {
	if len(m.Alerts) == 0 {
		return nil, errors.New("message has no alerts")
	}
	d := c.tmpl.Data(m)
	text, err := c.tmpl.Execute("text", d)
	if err != nil {
		return nil, err
	}
	text = template.Truncate(MaxTwilioBody, text)
	out := make([]notify.Payload, len(c.cfg.To))
	for i, to := range c.cfg.To {
		form := url.Values{"To": {to}, "Body": {text}}
		if c.cfg.From != "" {
			form.Set("From", c.cfg.From)
		} else {
			form.Set("MessagingServiceSid", c.cfg.MessagingServiceSID)
		}
		out[i] = notify.Payload{Body: []byte(form.Encode()), ContentType: "application/x-www-form-urlencoded", Part: i + 1, Parts: len(c.cfg.To),
			Summary: template.Summary(d) + " to " + to, IdempotencyKey: template.PartKey(m.IdempotencyKey, i+1, len(c.cfg.To))}
	}
	return out, nil
}

// Send implements notify.Channel.
func (c *Twilio) Send(ctx context.Context, p notify.Payload) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.target, strings.NewReader(string(p.Body)))
	if err != nil {
		return false, fmt.Errorf("%s: %w", TwilioVendor, err)
	}
	user := c.cfg.AccountSID
	if c.cfg.APIKeySID != "" {
		user = c.cfg.APIKeySID
	}
	req.SetBasicAuth(user, c.cfg.AuthToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", vendorhttp.UserAgent)
	a, err := vendorhttp.Do(c.client, req)
	if err != nil {
		return true, fmt.Errorf("%s: %w", TwilioVendor, err)
	}
	if a.OK() {
		return false, nil
	}
	var r struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(a.Body, &r) != nil || r.Code == 0 {
		return vendorhttp.StatusFailure(TwilioVendor, a)
	}
	retry := vendorhttp.RetryStatus(a.Status) || r.Code == 20429
	return vendorhttp.Failure(TwilioVendor, a, retry, strconv.Itoa(r.Code), vendorhttp.OneLine([]byte(r.Message), 256))
}
