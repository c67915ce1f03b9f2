// Package sms delivers notifications as text messages: through Aliyun's
// SendSms (an approved template whose variables Vigil fills, signed by a
// swappable Signer) or Twilio's Messages API (free text, one request per
// recipient). A message is never split into several texts: the templates
// say what fires and link to the console.
package sms

import (
	"net/http"
	"time"

	"github.com/vigil-risk/vigil/runner/notify/template"
)

// Options are what a channel needs besides its config.
type Options struct {
	Templates *template.Set    // default: the sms defaults
	Client    *http.Client     // default: http.DefaultClient; the context bounds each attempt
	Now       func() time.Time // for signatures (default time.Now)
}

func (o Options) templates() (*template.Set, error) { return template.For("sms", o.Templates) }
