package notify

import (
	"context"
	"fmt"

	"github.com/vigil-risk/vigil/runner/alert"
)

// Message is what one notification says to one receiver: a group of alerts,
// as Alertmanager groups them (route, group_by), or a digest of several
// groups merged while the receiver's rate limit held them back.
type Message struct {
	Receiver       string
	GroupKey       string            // stable identity of the group: route path + group_by values
	GroupLabels    map[string]string // the group_by labels and their values
	Status         Kind              // Firing when any alert of the group fires, else Resolved
	Alerts         []alert.Alert     // firing ones first, then resolved; each keeps its own Status
	Digest         int               // > 1 when several messages were merged into this one
	Locale         string            // "zh" or "en": the language of the default templates
	LinkBase       string            // the console's base URL, for links to alerts (may be empty)
	IdempotencyKey string            // stable for this message and receiver, across retries and restarts
}

// Payload is one vendor request that carries (part of) a message: the body as
// the vendor documents it, before anything time-dependent (a signature, a
// timestamp) is added — Send adds those, so a retried payload is signed anew.
type Payload struct {
	Body        []byte
	ContentType string
	Part, Parts int    // 1-based position when a message had to be split to fit the vendor's size limit
	Summary     string // one line for logs and the API
	// IdempotencyKey is the message's key, suffixed with the part when split.
	IdempotencyKey string
}

// Limits are what a vendor allows one receiver (a robot, a webhook URL, an
// integration key): zero means no limit.
type Limits struct {
	PerMinute int // messages per rolling minute (DingTalk and WeCom 20, Feishu 100, PagerDuty 120)
	PerSecond int // messages per second (Feishu 5, Slack 1)
	MaxBytes  int // the largest body the vendor takes (DingTalk 20,000, WeCom 4,096 of markdown, Feishu 20 KB)
}

// Channel is one vendor integration — one subpackage of notify each
// (notify/dingtalk, notify/wecom, …), as Alertmanager's notifiers are.
type Channel interface {
	// Render turns a message into the requests that carry it, each within
	// Limits().MaxBytes, numbered "(1/3)" in their text when there are several.
	Render(m *Message) ([]Payload, error)
	// Send delivers one payload. A failure says whether it is worth retrying
	// (transport errors, timeouts, 5xx, 429, the vendor's rate-limit codes)
	// or permanent (bad signature, unknown key, malformed message); a
	// permanent failure should be a *VendorError carrying the vendor's words.
	Send(ctx context.Context, p Payload) (retry bool, err error)
	Limits() Limits
}

// VendorError is a vendor's refusal, with its own code and message, kept on
// the dead-lettered notification so that an operator sees what the vendor said.
type VendorError struct {
	Vendor  string // "dingtalk", "slack", …
	Status  int    // HTTP status, 0 for non-HTTP channels
	Code    string // the vendor's error code (errcode, code, Code), empty if none
	Message string // the vendor's message, trimmed to one line
}

func (e *VendorError) Error() string {
	s := e.Vendor
	if e.Status != 0 {
		s += fmt.Sprintf(" HTTP %d", e.Status)
	}
	if e.Code != "" {
		s += " code " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}
