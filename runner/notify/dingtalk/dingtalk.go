// Package dingtalk delivers notifications through a DingTalk custom robot
// (自定义机器人): markdown or actionCard messages, @mentions by mobile or
// user id, the security keyword, and the robot's 加签 signature.
//
// The robot answers HTTP 200 with a business code: errcode 0 is success;
// 130101 (send too fast), 410100, 90030 and -1 (busy) are worth retrying;
// anything else — 310000 (bad signature, keyword, IP), 300005 (unknown
// token) — is a permanent *notify.VendorError.
package dingtalk

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/internal/vendorhttp"
	"github.com/vigil-risk/vigil/runner/notify/template"
)

// Vendor names DingTalk in errors.
const Vendor = "dingtalk"

// Message types.
const (
	Markdown   = "markdown"
	ActionCard = "actionCard"
)

// Limits of one robot: 20 messages a minute (more and it is muted for ten
// minutes), 20,000 bytes a message.
const (
	PerMinute = 20
	MaxBytes  = 20000
)

// Config is one robot.
type Config struct {
	URL       string   // the robot's webhook URL with its access_token: a secret
	Secret    string   // the 加签 secret ("SEC…"); empty when the robot uses a keyword or IPs instead
	MsgType   string   // markdown (default) or actionCard
	AtMobiles []string // mobiles to @ (markdown)
	AtUserIDs []string // user ids to @ (markdown)
	AtAll     bool     // @ everyone (markdown)
	Keyword   string   // the security keyword every message must contain, if the robot has one
}

// Options are what a channel needs besides its config.
type Options struct {
	Templates *template.Set    // default: the dingtalk defaults
	Client    *http.Client     // default: http.DefaultClient; the context bounds each attempt
	Now       func() time.Time // signing clock (default time.Now)
}

// Channel is one DingTalk robot.
type Channel struct {
	cfg    Config
	tmpl   *template.Set
	client *http.Client
	now    func() time.Time
}

var _ notify.Channel = (*Channel)(nil)

// New checks cfg; errors name the field.
func New(cfg Config, opts Options) (*Channel, error) {
	u, err := vendorhttp.ParseURL(cfg.URL, "the robot's https webhook URL")
	if err != nil {
		return nil, err
	}
	if u.Query().Get("access_token") == "" {
		return nil, fmt.Errorf("url %s: has no access_token", vendorhttp.Redact(cfg.URL))
	}
	switch cfg.MsgType {
	case "":
		cfg.MsgType = Markdown
	case Markdown, ActionCard:
	default:
		return nil, fmt.Errorf("msgtype %q: want markdown or actionCard", cfg.MsgType)
	}
	for i, m := range cfg.AtMobiles {
		if m == "" || strings.ContainsAny(m, " @\n") {
			return nil, fmt.Errorf("at_mobiles[%d] %q: want a mobile number", i, m)
		}
	}
	tmpl, err := template.For("dingtalk", opts.Templates)
	if err != nil {
		return nil, err
	}
	c := &Channel{cfg: cfg, tmpl: tmpl, client: opts.Client, now: opts.Now}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Limits implements notify.Channel.
func (c *Channel) Limits() notify.Limits {
	return notify.Limits{PerMinute: PerMinute, MaxBytes: MaxBytes}
}

type body struct {
	MsgType    string      `json:"msgtype"`
	Markdown   *markdown   `json:"markdown,omitempty"`
	ActionCard *actionCard `json:"actionCard,omitempty"`
	At         *at         `json:"at,omitempty"`
}

type markdown struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

type actionCard struct {
	Title       string `json:"title"`
	Text        string `json:"text"`
	SingleTitle string `json:"singleTitle"`
	SingleURL   string `json:"singleURL"`
}

type at struct {
	AtMobiles []string `json:"atMobiles,omitempty"`
	AtUserIDs []string `json:"atUserIds,omitempty"`
	IsAtAll   bool     `json:"isAtAll"`
}

// Render implements notify.Channel: markdown, or an actionCard whose button
// opens the alert (or the console for several); an actionCard needs a link
// base, so without one the message goes as markdown.
func (c *Channel) Render(m *notify.Message) ([]notify.Payload, error) {
	return c.tmpl.Render(m, MaxBytes, "application/json", c.build)
}

func (c *Channel) build(d *template.Data, cut int) ([]byte, error) {
	title, err := c.tmpl.Execute("title", d)
	if err != nil {
		return nil, err
	}
	text, err := c.tmpl.Execute("text", d)
	if err != nil {
		return nil, err
	}
	if cut > 0 {
		text = template.TruncateBytes(len(text)-cut, text)
	}
	link := d.ConsoleLink()
	if d.Total == 1 && d.First().Link != "" {
		link = d.First().Link
	}
	if c.cfg.MsgType == ActionCard && link != "" {
		button, err := c.tmpl.Execute("button", d)
		if err != nil {
			return nil, err
		}
		return vendorhttp.Marshal(body{MsgType: ActionCard, ActionCard: &actionCard{
			Title: title, Text: c.withKeyword(text), SingleTitle: button, SingleURL: link}})
	}
	b := body{MsgType: Markdown, Markdown: &markdown{Title: title, Text: c.withKeyword(c.withMentions(text))}}
	if len(c.cfg.AtMobiles) > 0 || len(c.cfg.AtUserIDs) > 0 || c.cfg.AtAll {
		b.At = &at{AtMobiles: c.cfg.AtMobiles, AtUserIDs: c.cfg.AtUserIDs, IsAtAll: c.cfg.AtAll}
	}
	return vendorhttp.Marshal(b)
}

// withMentions adds the @s: in markdown a mention works only when the text
// also says it.
func (c *Channel) withMentions(text string) string {
	var b strings.Builder
	for _, m := range c.cfg.AtMobiles {
		b.WriteString(" @" + m)
	}
	for _, u := range c.cfg.AtUserIDs {
		b.WriteString(" @" + u)
	}
	if b.Len() == 0 {
		return text
	}
	return text + "\n\n" + strings.TrimSpace(b.String())
}

func (c *Channel) withKeyword(text string) string {
	if c.cfg.Keyword == "" || strings.Contains(text, c.cfg.Keyword) {
		return text
	}
	return text + "\n\n" + c.cfg.Keyword
}

// Sign is DingTalk's 加签: base64(HMAC-SHA256(key = secret, message =
// timestamp + "\n" + secret)), timestamp in milliseconds. The URL carries
// it query-escaped.
func Sign(secret string, timestampMillis int64) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestampMillis, 10) + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Send implements notify.Channel, signing the request now.
func (c *Channel) Send(ctx context.Context, p notify.Payload) (bool, error) {
	target := c.cfg.URL
	if c.cfg.Secret != "" {
		u, err := url.Parse(c.cfg.URL)
		if err != nil {
			return false, fmt.Errorf("%s: url: %w", Vendor, err)
		}
		ts := c.now().UnixMilli()
		q := u.Query()
		q.Set("timestamp", strconv.FormatInt(ts, 10))
		q.Set("sign", Sign(c.cfg.Secret, ts))
		u.RawQuery = q.Encode()
		target = u.String()
	}
	a, err := vendorhttp.Post(ctx, c.client, target, "application/json", p.Body, nil)
	if err != nil {
		return true, fmt.Errorf("%s: %w", Vendor, err)
	}
	return classify(a)
}

// retryCode says which business codes are worth retrying after a backoff.
func retryCode(code int64) bool {
	switch code {
	case -1, // system busy
		130101, // send too fast: more than 20 a minute, muted for 10 minutes
		410100, // rate limited
		90030:  // webhook over its quota
		return true
	}
	return false
}

// retryWait is how long a code asks the sender to hold off: a robot that
// sent more than 20 in a minute is muted for ten.
func retryWait(code int64) time.Duration {
	if code == 130101 {
		return 10 * time.Minute
	}
	return 0
}

func classify(a *vendorhttp.Answer) (bool, error) {
	return vendorhttp.ErrCodeAnswer(Vendor, a, retryCode, retryWait)
}
