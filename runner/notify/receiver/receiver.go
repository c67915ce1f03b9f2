// Package receiver builds the notify receivers from configuration: for each
// config.ReceiverConfig, its secrets resolved, its templates loaded and
// tried, and the channel of its type. A new channel is one new subpackage of
// notify and one case here.
package receiver

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/alertmanager"
	"github.com/vigil-risk/vigil/runner/notify/dingtalk"
	"github.com/vigil-risk/vigil/runner/notify/email"
	"github.com/vigil-risk/vigil/runner/notify/feishu"
	"github.com/vigil-risk/vigil/runner/notify/logchan"
	"github.com/vigil-risk/vigil/runner/notify/pagerduty"
	"github.com/vigil-risk/vigil/runner/notify/slack"
	"github.com/vigil-risk/vigil/runner/notify/sms"
	"github.com/vigil-risk/vigil/runner/notify/template"
	"github.com/vigil-risk/vigil/runner/notify/webhook"
	"github.com/vigil-risk/vigil/runner/notify/wecom"
)

// Options are shared by every receiver.
type Options struct {
	Logger   *slog.Logger        // where log receivers write
	Client   *http.Client        // for the HTTP channels (default http.DefaultClient)
	LinkBase string              // the console's base URL, for links in messages
	Links    template.LinkSigner // signs Acknowledge/Resolve links in messages; nil: none
	Getenv   func(string) string // resolves *_secret_env (default os.Getenv)
	Now      func() time.Time    // signing and message clocks (default time.Now)
}

// Build checks every receiver and returns them all, or every problem found,
// each naming the receiver and the key. A receiver gets its Name, Channel,
// Timeout and Locale; how the dispatcher treats it (send_resolved,
// fallback) is notify.delivery's business.
func Build(cfgs []config.ReceiverConfig, opts Options) ([]notify.Receiver, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var errs []error
	out := make([]notify.Receiver, 0, len(cfgs))
	seen := map[string]bool{}
	for i, c := range cfgs {
		where := fmt.Sprintf("notify.receivers[%s]", c.Name)
		if c.Name == "" {
			where = fmt.Sprintf("notify.receivers[%d]", i)
		}
		if c.Name == "" || seen[c.Name] {
			errs = append(errs, fmt.Errorf("%s: name: missing or used twice", where))
			continue
		}
		seen[c.Name] = true
		ch, err := channel(c, opts)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		timeout := c.Timeout
		if timeout <= 0 {
			timeout = config.DefaultReceiverTimeout
		}
		locale := c.Locale
		if locale == "" {
			locale = template.EN
		}
		out = append(out, notify.Receiver{Name: c.Name, Channel: ch, Timeout: timeout, Locale: locale})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// channel builds one receiver's channel. Errors name the key.
func channel(c config.ReceiverConfig, opts Options) (notify.Channel, error) {
	secret, err := c.Secret(opts.Getenv)
	if err != nil {
		return nil, err
	}
	target, err := c.URLSecret(opts.Getenv)
	if err != nil {
		return nil, err
	}
	var tmpl *template.Set
	if names := template.Names(c.Type); names != nil {
		loc := time.UTC
		if c.Timezone != "" {
			if loc, err = time.LoadLocation(c.Timezone); err != nil {
				return nil, fmt.Errorf("timezone: %w", err)
			}
		}
		tmpl, err = template.New(c.Type, template.Options{Locale: c.Locale, Location: loc, File: c.Template, LinkBase: opts.LinkBase, Links: opts.Links, Now: opts.Now})
		if err != nil {
			return nil, err
		}
	} else if c.Template != "" {
		return nil, fmt.Errorf("template: a %s receiver has no templates", c.Type)
	}
	in := func(block string, err error) error {
		if err == nil {
			return nil
		}
		return fmt.Errorf("%s: %w", block, err)
	}

	switch c.Type {
	case config.ReceiverLog:
		return logchan.New(opts.Logger), nil
	case config.ReceiverWebhook:
		headers := c.Webhook.Headers
		if auth, err := c.AuthorizationSecret(opts.Getenv); err != nil {
			return nil, err
		} else if auth != "" {
			headers = make(map[string]string, len(c.Webhook.Headers)+1)
			for k, v := range c.Webhook.Headers {
				headers[k] = v
			}
			headers["Authorization"] = auth
		}
		ch, err := webhook.New(webhook.Config{URL: target, Secret: secret, Headers: headers, MaxBytes: c.Webhook.MaxBytes},
			webhook.Options{Client: opts.Client, LinkBase: opts.LinkBase, Now: opts.Now})
		return ch, in("webhook", err)
	case config.ReceiverDingTalk:
		d := c.DingTalk
		ch, err := dingtalk.New(dingtalk.Config{URL: target, Secret: secret, MsgType: d.MsgType, AtMobiles: d.AtMobiles, AtUserIDs: d.AtUserIDs, AtAll: d.AtAll, Keyword: d.Keyword},
			dingtalk.Options{Templates: tmpl, Client: opts.Client, Now: opts.Now})
		return ch, in("dingtalk", err)
	case config.ReceiverWeCom:
		w := c.WeCom
		ch, err := wecom.New(wecom.Config{URL: target, MsgType: w.MsgType, MentionedList: w.MentionedList, MentionedMobileList: w.MentionedMobileList},
			wecom.Options{Templates: tmpl, Client: opts.Client})
		return ch, in("wecom", err)
	case config.ReceiverFeishu:
		f := c.Feishu
		ch, err := feishu.New(feishu.Config{URL: target, Secret: secret, AtAll: f.AtAll, AtUserIDs: f.AtUserIDs, Keyword: f.Keyword},
			feishu.Options{Templates: tmpl, Client: opts.Client, Now: opts.Now})
		return ch, in("feishu", err)
	case config.ReceiverSlack:
		ch, err := slack.New(slack.Config{URL: target}, slack.Options{Templates: tmpl, Client: opts.Client})
		return ch, in("slack", err)
	case config.ReceiverEmail:
		e := c.Email
		ch, err := email.New(email.Config{Host: e.Host, Port: e.Port, TLS: e.TLS, CAFile: e.CAFile, ServerName: e.ServerName,
			Username: e.Username, Password: secret, Hello: e.Hello, From: e.From, To: e.To, Cc: e.Cc},
			email.Options{Templates: tmpl, Now: opts.Now, Timeout: c.Timeout})
		return ch, in("email", err)
	case config.ReceiverSMS:
		s := c.SMS
		switch s.Provider {
		case "aliyun":
			a := s.Aliyun
			ch, err := sms.NewAliyun(sms.AliyunConfig{AccessKeyID: a.AccessKeyID, AccessKeySecret: secret, SignName: a.SignName,
				TemplateCode: a.TemplateCode, PhoneNumbers: s.To, TemplateParams: a.TemplateParams, MaxParamChars: a.MaxParamChars,
				RegionID: a.RegionID, Endpoint: target}, sms.Options{Templates: tmpl, Client: opts.Client, Now: opts.Now})
			return ch, in("sms.aliyun", err)
		case "twilio":
			tw := s.Twilio
			ch, err := sms.NewTwilio(sms.TwilioConfig{AccountSID: tw.AccountSID, AuthToken: secret, APIKeySID: tw.APIKeySID, From: tw.From,
				MessagingServiceSID: tw.MessagingServiceSID, To: s.To, Endpoint: target}, sms.Options{Templates: tmpl, Client: opts.Client, Now: opts.Now})
			return ch, in("sms.twilio", err)
		}
		return nil, fmt.Errorf("sms.provider %q: want aliyun or twilio", s.Provider)
	case config.ReceiverPagerDuty:
		ch, err := pagerduty.New(pagerduty.Config{RoutingKey: secret, URL: target, Source: c.PagerDuty.Source},
			pagerduty.Options{Templates: tmpl, Client: opts.Client})
		return ch, in("pagerduty", err)
	case config.ReceiverAlertmanager:
		a := c.Alertmanager
		ch, err := alertmanager.New(alertmanager.Config{URL: target, Token: secret, Labels: a.Labels, EndsAfter: a.EndsAfter},
			alertmanager.Options{Templates: tmpl, Client: opts.Client, Now: opts.Now})
		return ch, in("alertmanager", err)
	}
	return nil, fmt.Errorf("type %q: want one of %v", c.Type, config.ReceiverTypes())
}
