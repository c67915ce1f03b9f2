// Package slack delivers notifications through a Slack incoming webhook as
// Block Kit messages: a header, a summary, the alerts in mrkdwn sections
// and a context line, with the title as the notification text.
//
// The webhook URL is the only credential. Slack answers 200 "ok"; errors
// are plain-text bodies with a 4xx status (invalid_payload, invalid_token,
// no_service, channel_is_archived, …) and are permanent
// *notify.VendorErrors carrying that text as the code; 429 rate_limited
// (with Retry-After) and 5xx are worth retrying.
package slack

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/internal/vendorhttp"
	"github.com/vigil-risk/vigil/runner/notify/template"
)

// Vendor names Slack in errors.
const Vendor = "slack"

// Slack's limits: about one message a second per webhook, 50 blocks a
// message, 150 characters in a header, 3,000 in a section.
const (
	PerSecond     = 1
	MaxBlocks     = 50
	MaxHeaderText = 150
	MaxSection    = 3000
)

// Config is one incoming webhook.
type Config struct {
	URL string // https://hooks.slack.com/services/T…/B…/…: a secret
}

// Options are what a channel needs besides its config.
type Options struct {
	Templates *template.Set // default: the slack defaults
	Client    *http.Client  // default: http.DefaultClient; the context bounds each attempt
}

// Channel is one incoming webhook.
type Channel struct {
	cfg    Config
	tmpl   *template.Set
	client *http.Client
}

var _ notify.Channel = (*Channel)(nil)

// New checks cfg; errors name the field.
func New(cfg Config, opts Options) (*Channel, error) {
	const want = "the incoming webhook's URL"
	u, err := vendorhttp.ParseURL(cfg.URL, want)
	if err != nil {
		return nil, err
	}
	if strings.Trim(u.Path, "/") == "" {
		return nil, fmt.Errorf("url %s: want %s", vendorhttp.Redact(cfg.URL), want)
	}
	tmpl, err := template.For("slack", opts.Templates)
	if err != nil {
		return nil, err
	}
	c := &Channel{cfg: cfg, tmpl: tmpl, client: opts.Client}
	return c, nil
}

// Limits implements notify.Channel: Slack sets no byte limit on a webhook;
// Render keeps each message within 50 blocks.
func (c *Channel) Limits() notify.Limits { return notify.Limits{PerSecond: PerSecond} }

type message struct {
	Text   string  `json:"text"` // the notification's text, and the fallback
	Blocks []block `json:"blocks"`
}

type block struct {
	Type     string  `json:"type"`               // header, section, context
	Text     *text   `json:"text,omitempty"`     // header, section
	Elements []*text `json:"elements,omitempty"` // context
}

type text struct {
	Type  string `json:"type"` // plain_text or mrkdwn
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

// Render implements notify.Channel.
func (c *Channel) Render(m *notify.Message) ([]notify.Payload, error) {
	return c.tmpl.Render(m, 0, "application/json", c.build)
}

func (c *Channel) build(d *template.Data, _ int) ([]byte, error) {
	title, err := c.tmpl.Execute("title", d)
	if err != nil {
		return nil, err
	}
	summary, err := c.tmpl.Execute("summary", d)
	if err != nil {
		return nil, err
	}
	footer, err := c.tmpl.Execute("footer", d)
	if err != nil {
		return nil, err
	}
	blocks := []block{{Type: "header", Text: &text{Type: "plain_text", Text: template.Truncate(MaxHeaderText, title), Emoji: true}}}
	if summary != "" {
		blocks = append(blocks, section(summary))
	}
	// Alerts share sections up to Slack's 3,000 characters each.
	sep := "\n\n"
	if d.Compact {
		sep = "\n"
	}
	var cur strings.Builder
	curLen := 0
	for _, a := range d.Alerts {
		s, err := c.tmpl.Alert("alert", d, a)
		if err != nil {
			return nil, err
		}
		s = template.Truncate(MaxSection, s)
		n := utf8.RuneCountInString(s)
		if curLen > 0 && curLen+len(sep)+n > MaxSection {
			blocks = append(blocks, section(cur.String()))
			cur.Reset()
			curLen = 0
		}
		if curLen > 0 {
			cur.WriteString(sep)
			curLen += len(sep)
		}
		cur.WriteString(s)
		curLen += n
	}
	if curLen > 0 {
		blocks = append(blocks, section(cur.String()))
	}
	if footer != "" {
		blocks = append(blocks, block{Type: "context", Elements: []*text{{Type: "mrkdwn", Text: template.Truncate(MaxSection, footer)}}})
	}
	if len(blocks) > MaxBlocks {
		return nil, fmt.Errorf("%d blocks: %w", len(blocks), template.ErrTooLarge)
	}
	return vendorhttp.Marshal(message{Text: title, Blocks: blocks})
}

func section(s string) block {
	return block{Type: "section", Text: &text{Type: "mrkdwn", Text: template.Truncate(MaxSection, s)}}
}

// Send implements notify.Channel.
func (c *Channel) Send(ctx context.Context, p notify.Payload) (bool, error) {
	a, err := vendorhttp.Post(ctx, c.client, c.cfg.URL, "application/json", p.Body, nil)
	if err != nil {
		return true, fmt.Errorf("%s: %w", Vendor, err)
	}
	if a.OK() {
		return false, nil
	}
	// Slack's errors are plain words (invalid_token, no_service): the code.
	msg := vendorhttp.OneLine(a.Body, 256)
	code := ""
	if !strings.ContainsAny(msg, " <{") {
		code = msg
	}
	return vendorhttp.Failure(Vendor, a, vendorhttp.RetryStatus(a.Status), code, msg)
}
