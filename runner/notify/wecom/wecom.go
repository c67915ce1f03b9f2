// Package wecom delivers notifications through a WeCom (企业微信) group
// robot: markdown (at most 4,096 bytes, <@userid> mentions) or text (at
// most 2,048 bytes, mentions by user id or mobile). The webhook's key is the
// only credential: group robots do not sign requests.
//
// The robot answers HTTP 200 with a business code: errcode 0 is success;
// -1 (busy), 45009 (over 20 a minute) and 45033 (concurrency) are worth
// retrying; anything else — 93000 (invalid webhook url: a bad or removed
// key), 40008, 44004, 45002 — is a permanent *notify.VendorError.
package wecom

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/internal/vendorhttp"
	"github.com/vigil-risk/vigil/runner/notify/template"
)

// Vendor names WeCom in errors.
const Vendor = "wecom"

// Message types.
const (
	Markdown = "markdown"
	Text     = "text"
)

// Limits of one robot: 20 messages a minute, failed ones included; the
// markdown content at most 4,096 bytes, text content 2,048. Vigil keeps the
// whole body within them.
const (
	PerMinute        = 20
	MaxMarkdownBytes = 4096
	MaxTextBytes     = 2048
)

// Config is one group robot.
type Config struct {
	URL                 string   // the webhook URL with its key: a secret
	MsgType             string   // markdown (default) or text
	MentionedList       []string // user ids to @, or "@all" (text only)
	MentionedMobileList []string // mobiles to @, or "@all" (text only: markdown cannot @ by mobile)
}

// Options are what a channel needs besides its config.
type Options struct {
	Templates *template.Set // default: the wecom defaults
	Client    *http.Client  // default: http.DefaultClient; the context bounds each attempt
}

// Channel is one WeCom group robot.
type Channel struct {
	cfg    Config
	tmpl   *template.Set
	client *http.Client
}

var _ notify.Channel = (*Channel)(nil)

// New checks cfg; errors name the field.
func New(cfg Config, opts Options) (*Channel, error) {
	u, err := vendorhttp.ParseURL(cfg.URL, "the robot's https webhook URL")
	if err != nil {
		return nil, err
	}
	if u.Query().Get("key") == "" {
		return nil, fmt.Errorf("url %s: has no key", vendorhttp.Redact(cfg.URL))
	}
	switch cfg.MsgType {
	case "":
		cfg.MsgType = Markdown
	case Markdown, Text:
	default:
		return nil, fmt.Errorf("msgtype %q: want markdown or text", cfg.MsgType)
	}
	if cfg.MsgType == Markdown && len(cfg.MentionedMobileList) > 0 {
		return nil, errors.New("mentioned_mobile_list: markdown messages cannot @ by mobile; use msgtype text or mentioned_list")
	}
	for i, id := range cfg.MentionedList {
		switch {
		case id == "@all" && cfg.MsgType == Markdown:
			return nil, fmt.Errorf("mentioned_list[%d]: markdown messages cannot @all; use msgtype text", i)
		case id == "" || strings.ContainsAny(id, " <>\n"):
			return nil, fmt.Errorf("mentioned_list[%d] %q: want a user id or @all", i, id)
		}
	}
	tmpl, err := template.For("wecom", opts.Templates)
	if err != nil {
		return nil, err
	}
	c := &Channel{cfg: cfg, tmpl: tmpl, client: opts.Client}
	return c, nil
}

// Limits implements notify.Channel.
func (c *Channel) Limits() notify.Limits {
	return notify.Limits{PerMinute: PerMinute, MaxBytes: c.maxBytes()}
}

func (c *Channel) maxBytes() int {
	if c.cfg.MsgType == Text {
		return MaxTextBytes
	}
	return MaxMarkdownBytes
}

type body struct {
	MsgType  string   `json:"msgtype"`
	Markdown *content `json:"markdown,omitempty"`
	Text     *content `json:"text,omitempty"`
}

type content struct {
	Content             string   `json:"content"`
	MentionedList       []string `json:"mentioned_list,omitempty"`
	MentionedMobileList []string `json:"mentioned_mobile_list,omitempty"`
}

// Render implements notify.Channel.
func (c *Channel) Render(m *notify.Message) ([]notify.Payload, error) {
	return c.tmpl.Render(m, c.maxBytes(), "application/json", c.build)
}

func (c *Channel) build(d *template.Data, cut int) ([]byte, error) {
	if c.cfg.MsgType == Text {
		text, err := c.tmpl.Execute("text", d)
		if err != nil {
			return nil, err
		}
		if cut > 0 {
			text = template.TruncateBytes(len(text)-cut, text)
		}
		return vendorhttp.Marshal(body{MsgType: Text, Text: &content{Content: text,
			MentionedList: c.cfg.MentionedList, MentionedMobileList: c.cfg.MentionedMobileList}})
	}
	md, err := c.tmpl.Execute("markdown", d)
	if err != nil {
		return nil, err
	}
	if cut > 0 {
		md = template.TruncateBytes(len(md)-cut, md)
	}
	return vendorhttp.Marshal(body{MsgType: Markdown, Markdown: &content{Content: c.withMentions(md)}})
}

// withMentions appends <@userid> for each mention: markdown has no mention
// list.
func (c *Channel) withMentions(md string) string {
	if len(c.cfg.MentionedList) == 0 {
		return md
	}
	var b strings.Builder
	b.WriteString(md)
	b.WriteString("\n")
	for _, id := range c.cfg.MentionedList {
		b.WriteString("<@" + id + ">")
	}
	return b.String()
}

// Send implements notify.Channel.
func (c *Channel) Send(ctx context.Context, p notify.Payload) (bool, error) {
	a, err := vendorhttp.Post(ctx, c.client, c.cfg.URL, "application/json", p.Body, nil)
	if err != nil {
		return true, fmt.Errorf("%s: %w", Vendor, err)
	}
	return classify(a)
}

// retryCode says which business codes are worth retrying after a backoff.
func retryCode(code int64) bool {
	switch code {
	case -1, // busy
		45009, // api freq out of limit: over 20 a minute
		45033: // concurrency limit
		return true
	}
	return false
}

// retryWait is how long a code asks the sender to hold off: the 20 a
// minute count includes failed sends, so wait for the window to pass.
func retryWait(code int64) time.Duration {
	if code == 45009 {
		return time.Minute
	}
	return 0
}

func classify(a *vendorhttp.Answer) (bool, error) {
	return vendorhttp.ErrCodeAnswer(Vendor, a, retryCode, retryWait)
}
