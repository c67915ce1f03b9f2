// Package feishu delivers notifications through a Feishu / Lark custom bot
// (自定义机器人) as interactive cards, signed in the body when the bot has
// 签名校验 on.
//
// The bot answers with a business code, on HTTP 200 and sometimes 400:
// code 0 is success; 11232 (frequency limited) and HTTP 429/5xx are worth
// retrying; anything else — 19021 (bad signature or clock), 19022 (IP not
// allowed), 19024 (keyword missing), 9499 (bad request) — is a permanent
// *notify.VendorError.
package feishu

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/internal/vendorhttp"
	"github.com/vigil-risk/vigil/runner/notify/template"
)

// Vendor names Feishu in errors.
const Vendor = "feishu"

// Limits of one bot: 100 requests a minute and 5 a second; a body of at
// most 20 KB (Vigil keeps to 20,000 bytes).
const (
	PerMinute = 100
	PerSecond = 5
	MaxBytes  = 20000
)

// signedOverhead is room kept for the timestamp and sign Send adds.
const signedOverhead = 96

// Config is one bot.
type Config struct {
	URL       string   // the bot's webhook URL (…/open-apis/bot/v2/hook/<token>): a secret
	Secret    string   // the 签名校验 secret; empty when the bot does not check signatures
	AtAll     bool     // @ everyone
	AtUserIDs []string // open_ids or user_ids to @
	Keyword   string   // the custom keyword every message must contain, if the bot has one
}

// Options are what a channel needs besides its config.
type Options struct {
	Templates *template.Set    // default: the feishu defaults
	Client    *http.Client     // default: http.DefaultClient; the context bounds each attempt
	Now       func() time.Time // signing clock (default time.Now)
}

// Channel is one Feishu bot.
type Channel struct {
	cfg    Config
	tmpl   *template.Set
	client *http.Client
	now    func() time.Time
}

var _ notify.Channel = (*Channel)(nil)

// New checks cfg; errors name the field.
func New(cfg Config, opts Options) (*Channel, error) {
	u, err := vendorhttp.ParseURL(cfg.URL, "the bot's https webhook URL")
	if err != nil {
		return nil, err
	}
	if !strings.Contains(u.Path, "/hook/") || strings.HasSuffix(u.Path, "/hook/") {
		return nil, fmt.Errorf("url %s: want …/open-apis/bot/v2/hook/<token>", vendorhttp.Redact(cfg.URL))
	}
	for i, id := range cfg.AtUserIDs {
		if id == "" || strings.ContainsAny(id, " <>\"\n") {
			return nil, fmt.Errorf("at_user_ids[%d] %q: want an open_id or user_id", i, id)
		}
	}
	tmpl, err := template.For("feishu", opts.Templates)
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
	return notify.Limits{PerMinute: PerMinute, PerSecond: PerSecond, MaxBytes: MaxBytes}
}

type body struct {
	MsgType string `json:"msg_type"`
	Card    card   `json:"card"`
}

type card struct {
	Config   cardConfig `json:"config"`
	Header   header     `json:"header"`
	Elements []element  `json:"elements"`
}

type cardConfig struct {
	WideScreenMode bool `json:"wide_screen_mode"`
}

type header struct {
	Title    text   `json:"title"`
	Template string `json:"template"` // the header's colour
}

type text struct {
	Tag     string `json:"tag"` // plain_text or lark_md
	Content string `json:"content"`
}

type element struct {
	Tag      string   `json:"tag"`                // div, hr, action, note
	Text     *text    `json:"text,omitempty"`     // div
	Actions  []button `json:"actions,omitempty"`  // action
	Elements []text   `json:"elements,omitempty"` // note
}

type button struct {
	Tag  string `json:"tag"` // button
	Text text   `json:"text"`
	Type string `json:"type"`
	URL  string `json:"url"`
}

// Render implements notify.Channel: one card per part, a header coloured
// by the highest severity (green when resolved), a block per alert, a
// button to the console and a note.
func (c *Channel) Render(m *notify.Message) ([]notify.Payload, error) {
	limit := MaxBytes
	if c.cfg.Secret != "" {
		limit -= signedOverhead
	}
	return c.tmpl.Render(m, limit, "application/json", c.build)
}

func (c *Channel) build(d *template.Data, cut int) ([]byte, error) {
	title, err := c.tmpl.Execute("title", d)
	if err != nil {
		return nil, err
	}
	summary, err := c.tmpl.Execute("summary", d)
	if err != nil {
		return nil, err
	}
	if mentions := c.mentions(); mentions != "" {
		summary = strings.TrimSpace(summary + "\n" + mentions)
	}
	var els []element
	if summary != "" {
		els = append(els, div(summary))
	}
	for i, a := range d.Alerts {
		s, err := c.tmpl.Alert("alert", d, a)
		if err != nil {
			return nil, err
		}
		if cut > 0 {
			s = template.TruncateBytes(len(s)-cut, s)
		}
		if i > 0 && !d.Compact {
			els = append(els, element{Tag: "hr"})
		}
		els = append(els, div(s))
	}
	link := d.ConsoleLink()
	if d.Total == 1 && d.First().Link != "" {
		link = d.First().Link
	}
	if link != "" {
		label, err := c.tmpl.Execute("button", d)
		if err != nil {
			return nil, err
		}
		els = append(els, element{Tag: "action", Actions: []button{{Tag: "button", Text: text{Tag: "plain_text", Content: label}, Type: "primary", URL: link}}})
	}
	footer, err := c.tmpl.Execute("footer", d)
	if err != nil {
		return nil, err
	}
	if c.cfg.Keyword != "" && !strings.Contains(title+summary+footer, c.cfg.Keyword) {
		footer = strings.TrimSpace(footer + " " + c.cfg.Keyword)
	}
	els = append(els, element{Tag: "note", Elements: []text{{Tag: "lark_md", Content: footer}}})
	return vendorhttp.Marshal(body{MsgType: "interactive", Card: card{
		Config:   cardConfig{WideScreenMode: true},
		Header:   header{Title: text{Tag: "plain_text", Content: title}, Template: colour(d)},
		Elements: els,
	}})
}

func div(s string) element { return element{Tag: "div", Text: &text{Tag: "lark_md", Content: s}} }

func (c *Channel) mentions() string {
	var b strings.Builder
	if c.cfg.AtAll {
		b.WriteString("<at id=all></at>")
	}
	for _, id := range c.cfg.AtUserIDs {
		b.WriteString("<at id=" + id + "></at>")
	}
	return b.String()
}

// colour is the card header's template colour.
func colour(d *template.Data) string {
	if d.Firing == 0 {
		return "green"
	}
	switch d.HighestSeverity() {
	case decision.Critical:
		return "red"
	case decision.High:
		return "orange"
	case decision.Medium:
		return "yellow"
	}
	return "blue"
}

// Sign is Feishu's 签名校验: base64(HMAC-SHA256(key = timestamp + "\n" +
// secret, message = nothing)), timestamp in seconds — the key and message
// are the other way round from DingTalk's.
func Sign(secret string, timestamp int64) string {
	mac := hmac.New(sha256.New, []byte(strconv.FormatInt(timestamp, 10)+"\n"+secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Send implements notify.Channel, signing the body now.
func (c *Channel) Send(ctx context.Context, p notify.Payload) (bool, error) {
	b := p.Body
	if c.cfg.Secret != "" {
		ts := c.now().Unix()
		var err error
		b, err = vendorhttp.Prepend(p.Body,
			vendorhttp.Field{Name: "timestamp", Value: strconv.FormatInt(ts, 10)},
			vendorhttp.Field{Name: "sign", Value: Sign(c.cfg.Secret, ts)})
		if err != nil {
			return false, fmt.Errorf("%s: sign: %w", Vendor, err)
		}
	}
	a, err := vendorhttp.Post(ctx, c.client, c.cfg.URL, "application/json", b, nil)
	if err != nil {
		return true, fmt.Errorf("%s: %w", Vendor, err)
	}
	return classify(a)
}

func classify(a *vendorhttp.Answer) (bool, error) {
	var r struct {
		Code       *int64 `json:"code"`
		Msg        string `json:"msg"`
		StatusCode *int64 `json:"StatusCode"` // the legacy field, alone in old answers
	}
	if json.Unmarshal(a.Body, &r) != nil || (r.Code == nil && r.StatusCode == nil) {
		if !a.OK() {
			return vendorhttp.StatusFailure(Vendor, a)
		}
		return true, fmt.Errorf("%s: HTTP %d with an answer that is not the bot's: %s", Vendor, a.Status, vendorhttp.OneLine(a.Body, 256))
	}
	code := r.Code
	if code == nil {
		code = r.StatusCode
	}
	if *code == 0 && a.OK() {
		return false, nil
	}
	// 11232 is the frequency limit; a 429 or 5xx is worth another try
	// whatever the body says.
	retry := *code == 11232 || (!a.OK() && vendorhttp.RetryStatus(a.Status))
	return vendorhttp.Failure(Vendor, a, retry, strconv.FormatInt(*code, 10), vendorhttp.OneLine([]byte(r.Msg), 256))
}
