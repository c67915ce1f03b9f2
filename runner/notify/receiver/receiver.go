// Package receiver builds notify receivers from configuration: one Config
// per named destination, its channel chosen by Type. A new channel is one
// new subpackage of notify and one case here.
package receiver

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"

	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/logchan"
	"github.com/vigil-risk/vigil/runner/notify/webhook"
)

// Channel types.
const (
	TypeLog     = "log"
	TypeWebhook = "webhook"
)

// Config is one receiver as the runner's configuration declares it.
type Config struct {
	Name    string
	Type    string          // log or webhook
	Webhook *webhook.Config // for type webhook
}

// Options are shared by every receiver.
type Options struct {
	Logger   *slog.Logger // where log receivers write
	Client   *http.Client // for webhooks (default: a plain client)
	LinkBase string       // the console's base URL, for links in payloads
}

// validName keeps receiver names usable in URLs, metrics and logs.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Build checks every receiver and returns them all, or every problem found,
// each naming the receiver and the field.
func Build(cfgs []Config, opts Options) ([]notify.Receiver, error) {
	var errs []error
	var out []notify.Receiver
	seen := map[string]int{}
	for i, c := range cfgs {
		where := fmt.Sprintf("receivers[%d] %q", i, c.Name)
		if c.Name == "" {
			where = fmt.Sprintf("receivers[%d]", i)
		}
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: "+format, append([]any{where}, args...)...))
		}
		switch first, dup := seen[c.Name]; {
		case c.Name == "":
			fail("name: required")
		case !validName.MatchString(c.Name):
			fail("name: use letters, digits, '_', '.' and '-', starting with a letter or digit")
		case dup:
			fail("name: already used by receivers[%d]", first)
		default:
			seen[c.Name] = i
		}
		if c.Webhook != nil && c.Type != TypeWebhook {
			fail("webhook: set, but type is %q", c.Type)
		}
		r := notify.Receiver{Name: c.Name}
		switch c.Type {
		case TypeLog:
			r.Notifier = logchan.New(opts.Logger)
		case TypeWebhook:
			if c.Webhook == nil {
				fail("webhook: required for type webhook")
				continue
			}
			w, err := webhook.New(*c.Webhook, webhook.Options{Client: opts.Client, LinkBase: opts.LinkBase})
			if err != nil {
				fail("webhook.%w", err)
				continue
			}
			r.Notifier, r.Timeout = w, c.Webhook.Timeout
		case "":
			fail("type: required (log or webhook)")
			continue
		default:
			fail("type %q: want log or webhook", c.Type)
			continue
		}
		out = append(out, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}
