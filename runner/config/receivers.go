package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// Receiver types: one channel each (runner/notify/<type>, docs/channels.md).
const (
	ReceiverLog          = "log"
	ReceiverWebhook      = "webhook"
	ReceiverDingTalk     = "dingtalk"
	ReceiverWeCom        = "wecom"
	ReceiverFeishu       = "feishu"
	ReceiverSlack        = "slack"
	ReceiverEmail        = "email"
	ReceiverSMS          = "sms"
	ReceiverPagerDuty    = "pagerduty"
	ReceiverAlertmanager = "alertmanager"
)

// ReceiverTypes lists the receiver types in the order the docs give them.
func ReceiverTypes() []string {
	return []string{ReceiverLog, ReceiverWebhook, ReceiverDingTalk, ReceiverWeCom, ReceiverFeishu, ReceiverSlack,
		ReceiverEmail, ReceiverSMS, ReceiverPagerDuty, ReceiverAlertmanager}
}

// ReceiverConfig is one notification target: a name, a channel type, what
// every channel shares, and the block of its own type. Secrets are never
// written here: a *_secret_env key names an environment variable that holds
// the value, a *_secret_file key a file that does — the robot URLs of
// DingTalk, WeCom, Feishu and Slack included, since their tokens are in
// them.
type ReceiverConfig struct {
	Name     string        `koanf:"name"`
	Type     string        `koanf:"type"`     // log, webhook, dingtalk, wecom, feishu, slack, email, sms, pagerduty, alertmanager
	Timeout  time.Duration `koanf:"timeout"`  // one delivery attempt (DefaultReceiverTimeout when unset)
	Locale   string        `koanf:"locale"`   // zh or en: the language of the default templates (default en)
	Timezone string        `koanf:"timezone"` // an IANA zone for the times in messages, e.g. Asia/Shanghai (default UTC)
	Template string        `koanf:"template"` // a file whose {{define}}s replace the channel's default templates

	// Where to deliver: a URL that holds no credential, or one that does,
	// from the environment or a file.
	URL           string `koanf:"url"`
	URLSecretEnv  string `koanf:"url_secret_env"`
	URLSecretFile string `koanf:"url_secret_file"`

	// The channel's secret: a signing key (webhook, dingtalk, feishu), a
	// password (email), an API secret (sms), an integration key
	// (pagerduty) or a bearer token (alertmanager).
	SecretEnv  string `koanf:"secret_env"`
	SecretFile string `koanf:"secret_file"`

	Webhook      WebhookReceiver      `koanf:"webhook" print:"omitzero"`
	DingTalk     DingTalkReceiver     `koanf:"dingtalk" print:"omitzero"`
	WeCom        WeComReceiver        `koanf:"wecom" print:"omitzero"`
	Feishu       FeishuReceiver       `koanf:"feishu" print:"omitzero"`
	Email        EmailReceiver        `koanf:"email" print:"omitzero"`
	SMS          SMSReceiver          `koanf:"sms" print:"omitzero"`
	PagerDuty    PagerDutyReceiver    `koanf:"pagerduty" print:"omitzero"`
	Alertmanager AlertmanagerReceiver `koanf:"alertmanager" print:"omitzero"`
}

// WebhookReceiver is what a webhook adds; secret_env holds its HMAC key.
type WebhookReceiver struct {
	Headers  map[string]string `koanf:"headers"`   // extra request headers without credentials
	MaxBytes int               `koanf:"max_bytes"` // larger messages are split; 0: no limit
	// An Authorization header value ("Bearer …"), for receivers that want one.
	AuthorizationSecretEnv  string `koanf:"authorization_secret_env"`
	AuthorizationSecretFile string `koanf:"authorization_secret_file"`
}

// DingTalkReceiver is what a DingTalk robot adds; url_secret_* holds its
// webhook URL with the access_token, secret_* its 加签 secret (SEC…).
type DingTalkReceiver struct {
	MsgType   string   `koanf:"msgtype"`     // markdown (default) or actionCard
	AtMobiles []string `koanf:"at_mobiles"`  // mobiles to @
	AtUserIDs []string `koanf:"at_user_ids"` // user ids to @
	AtAll     bool     `koanf:"at_all"`
	Keyword   string   `koanf:"keyword"` // the robot's security keyword, if it has one
}

// WeComReceiver is what a WeCom group robot adds; url_secret_* holds its
// webhook URL with the key.
type WeComReceiver struct {
	MsgType             string   `koanf:"msgtype"`               // markdown (default) or text
	MentionedList       []string `koanf:"mentioned_list"`        // user ids to @ ("@all": text only)
	MentionedMobileList []string `koanf:"mentioned_mobile_list"` // mobiles to @ (text only)
}

// FeishuReceiver is what a Feishu / Lark bot adds; url_secret_* holds its
// webhook URL, secret_* its 签名校验 secret.
type FeishuReceiver struct {
	AtAll     bool     `koanf:"at_all"`
	AtUserIDs []string `koanf:"at_user_ids"` // open_ids or user_ids to @
	Keyword   string   `koanf:"keyword"`     // the bot's custom keyword, if it has one
}

// EmailReceiver is an SMTP server and the addresses; secret_* holds the
// password.
type EmailReceiver struct {
	Host       string   `koanf:"host"`
	Port       int      `koanf:"port"`        // default 587 (starttls), 465 (tls), 25 (none)
	TLS        string   `koanf:"tls"`         // starttls (default), tls or none
	CAFile     string   `koanf:"ca_file"`     // PEM certificates to trust besides the system's
	ServerName string   `koanf:"server_name"` // the name on the server's certificate (default host)
	Username   string   `koanf:"username"`    // empty: no login
	Hello      string   `koanf:"hello"`       // the EHLO name (default the host name)
	From       string   `koanf:"from"`
	To         []string `koanf:"to"`
	Cc         []string `koanf:"cc"`
}

// SMSReceiver is a text-message provider and the numbers; secret_* holds
// Aliyun's AccessKey secret or Twilio's auth token; url, when set, replaces
// the provider's endpoint.
type SMSReceiver struct {
	Provider string    `koanf:"provider"` // aliyun or twilio
	To       []string  `koanf:"to"`       // Aliyun: mainland numbers; Twilio: E.164
	Aliyun   AliyunSMS `koanf:"aliyun" print:"omitzero"`
	Twilio   TwilioSMS `koanf:"twilio" print:"omitzero"`
}

// AliyunSMS is Aliyun Dysmsapi's SendSms with an approved signature and
// template.
type AliyunSMS struct {
	AccessKeyID    string            `koanf:"access_key_id"`
	SignName       string            `koanf:"sign_name"`       // the approved signature
	TemplateCode   string            `koanf:"template_code"`   // the approved template, SMS_…
	TemplateParams map[string]string `koanf:"template_params"` // template variable → Vigil sms template (default status, rule, count)
	MaxParamChars  int               `koanf:"max_param_chars"` // each variable cut to this many characters (default 35)
	RegionID       string            `koanf:"region_id"`       // default cn-hangzhou
}

// TwilioSMS is Twilio's Messages API.
type TwilioSMS struct {
	AccountSID          string `koanf:"account_sid"`           // AC…
	APIKeySID           string `koanf:"api_key_sid"`           // SK…: log in with an API key, its secret in secret_*
	From                string `koanf:"from"`                  // the sender number or id; or
	MessagingServiceSID string `koanf:"messaging_service_sid"` // MG…
}

// PagerDutyReceiver is an Events API v2 integration; secret_* holds the
// integration (routing) key; url, when set, replaces the endpoint.
type PagerDutyReceiver struct {
	Source string `koanf:"source"` // payload.source (default vigil)
}

// AlertmanagerReceiver is a Prometheus Alertmanager; url is its base URL,
// secret_* an optional bearer token for a proxy in front of it.
type AlertmanagerReceiver struct {
	Labels    map[string]string `koanf:"labels"`     // added to every alert
	EndsAfter time.Duration     `koanf:"ends_after"` // a firing alert's endsAt from each post (default 24h; above repeat_interval)
}

var receiverName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// validateReceivers checks the receivers without reading secrets: names,
// types, which keys each type needs and allows. Building the channels
// (notify/receiver) checks the values themselves.
func (c *Config) validateReceivers() error {
	names := map[string]bool{}
	for i, r := range c.Notify.Receivers {
		key := fmt.Sprintf("notify.receivers[%d]", i)
		if r.Name == "" {
			return fmt.Errorf("config: %s.name: every receiver needs a name", key)
		}
		key = fmt.Sprintf("notify.receivers[%s]", r.Name)
		switch {
		case !receiverName.MatchString(r.Name):
			return fmt.Errorf("config: %s.name: use letters, digits, '_', '.' and '-', starting with a letter or digit", key)
		case names[r.Name]:
			return fmt.Errorf("config: %s.name: receiver %q is defined twice", key, r.Name)
		}
		names[r.Name] = true
		if err := r.validate(c); err != nil {
			return fmt.Errorf("config: %s%w", key, err)
		}
	}
	return nil
}

// fieldError names a receiver's key; validate's errors start with "." or
// ": " so that the caller can put the receiver in front.
func fieldError(field, format string, args ...any) error {
	return fmt.Errorf("."+field+": "+format, args...)
}

func (r *ReceiverConfig) validate(c *Config) error {
	if r.Timeout <= 0 {
		return fieldError("timeout", "must be a positive duration such as 5s")
	}
	switch r.Locale {
	case "", "zh", "en":
	default:
		return fieldError("locale", "%q: want zh or en", r.Locale)
	}
	if r.Timezone != "" {
		if _, err := time.LoadLocation(r.Timezone); err != nil {
			return fieldError("timezone", "%q: want an IANA time zone such as Asia/Shanghai", r.Timezone)
		}
	}
	for _, pair := range [][2]string{{"secret_env", "secret_file"}, {"url_secret_env", "url_secret_file"},
		{"webhook.authorization_secret_env", "webhook.authorization_secret_file"}} {
		if r.keySet(pair[0]) && r.keySet(pair[1]) {
			return fmt.Errorf(": set %s or %s, not both", pair[0], pair[1])
		}
	}
	if r.URL != "" && (r.URLSecretEnv != "" || r.URLSecretFile != "") {
		return errors.New(": set url or url_secret_env/url_secret_file, not both")
	}
	if r.URL != "" {
		u, err := url.Parse(r.URL)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			return fieldError("url", "%q: want an absolute http(s) URL", redactURL(r.URL))
		case u.User != nil || u.RawQuery != "":
			return fieldError("url", "%q carries credentials or a query: give it through url_secret_env or url_secret_file", redactURL(r.URL))
		}
	}

	// Which keys each type needs, and which it cannot use.
	hasURL := r.URL != "" || r.URLSecretEnv != "" || r.URLSecretFile != ""
	hasSecret := r.SecretEnv != "" || r.SecretFile != ""
	secretURL := r.URLSecretEnv != "" || r.URLSecretFile != ""
	var needURL, needSecretURL, needSecret, noURL, noSecret bool
	switch r.Type {
	case ReceiverLog:
		noURL, noSecret = true, true
	case ReceiverWebhook:
		needURL, needSecret = true, true
		for k := range r.Webhook.Headers {
			if sensitiveHeader(k) {
				return fieldError("webhook.headers", "%s would put a credential in the config file: use webhook.authorization_secret_env or _file, or url_secret_env", k)
			}
		}
		if r.Webhook.MaxBytes < 0 || (r.Webhook.MaxBytes > 0 && r.Webhook.MaxBytes < 4096) {
			return fieldError("webhook.max_bytes", "%d: want 0 (no limit) or at least 4096", r.Webhook.MaxBytes)
		}
	case ReceiverDingTalk, ReceiverWeCom, ReceiverFeishu, ReceiverSlack:
		needSecretURL = true
		noSecret = r.Type == ReceiverWeCom || r.Type == ReceiverSlack
	case ReceiverEmail:
		noURL = true
		e := r.Email
		switch {
		case e.Host == "":
			return fieldError("email.host", "required: the SMTP server")
		case e.From == "":
			return fieldError("email.from", "required: the sender address")
		case len(e.To) == 0:
			return fieldError("email.to", "at least one address")
		case e.Username != "" && !hasSecret:
			return errors.New(": email.username needs the password in secret_env or secret_file")
		case e.Username == "" && hasSecret:
			return errors.New(": secret_env/secret_file is the SMTP password: set email.username too")
		}
		switch e.TLS {
		case "", "starttls", "tls", "none":
		default:
			return fieldError("email.tls", "%q: want starttls, tls or none", e.TLS)
		}
	case ReceiverSMS:
		needSecret = true
		s := r.SMS
		if len(s.To) == 0 {
			return fieldError("sms.to", "at least one phone number")
		}
		switch s.Provider {
		case "aliyun":
			a := s.Aliyun
			switch {
			case a.AccessKeyID == "":
				return fieldError("sms.aliyun.access_key_id", "required (its secret goes in secret_env or secret_file)")
			case a.SignName == "":
				return fieldError("sms.aliyun.sign_name", "required: the approved signature")
			case a.TemplateCode == "":
				return fieldError("sms.aliyun.template_code", "required: the approved template")
			case s.Twilio != (TwilioSMS{}):
				return fieldError("sms.twilio", "set, but the provider is aliyun")
			}
		case "twilio":
			t := s.Twilio
			switch {
			case t.AccountSID == "":
				return fieldError("sms.twilio.account_sid", "required")
			case (t.From == "") == (t.MessagingServiceSID == ""):
				return fieldError("sms.twilio", "set from or messaging_service_sid, one of them")
			case s.Aliyun.AccessKeyID != "" || s.Aliyun.SignName != "" || s.Aliyun.TemplateCode != "":
				return fieldError("sms.aliyun", "set, but the provider is twilio")
			}
		default:
			return fieldError("sms.provider", "%q: want aliyun or twilio", s.Provider)
		}
	case ReceiverPagerDuty:
		needSecret = true
	case ReceiverAlertmanager:
		needURL = true
		a := r.Alertmanager
		if a.EndsAfter != 0 && a.EndsAfter < time.Minute {
			return fieldError("alertmanager.ends_after", "%s: at least 1m", a.EndsAfter)
		}
		if ends := cmpOr(a.EndsAfter, 24*time.Hour); c != nil && c.Notify.RepeatInterval > 0 && ends <= c.Notify.RepeatInterval {
			return fieldError("alertmanager.ends_after", "%s is not above notify.repeat_interval (%s): Alertmanager would resolve the alerts between repeats", ends, c.Notify.RepeatInterval)
		}
	case "":
		return fieldError("type", "required: one of %s", strings.Join(ReceiverTypes(), ", "))
	default:
		return fieldError("type", "%q: want one of %s", r.Type, strings.Join(ReceiverTypes(), ", "))
	}
	switch {
	case needSecretURL && r.URL != "":
		return fieldError("url", "a %s URL holds its token: give it through url_secret_env or url_secret_file", r.Type)
	case needSecretURL && !secretURL:
		return errors.New(": url_secret_env or url_secret_file is required: the " + r.Type + " webhook URL, token included")
	case needURL && !hasURL:
		return errors.New(": url (or url_secret_env / url_secret_file) is required")
	case noURL && hasURL:
		return fmt.Errorf(".url: a %s receiver has no URL", r.Type)
	case needSecret && !hasSecret:
		return fmt.Errorf(": %s needs secret_env or secret_file (%s)", r.Type, secretMeaning[r.Type])
	case noSecret && hasSecret:
		return fmt.Errorf(": a %s receiver takes no secret_env/secret_file", r.Type)
	}
	// A block for another type is a mistake worth pointing at.
	for block, set := range map[string]bool{
		ReceiverWebhook: !zeroWebhook(r.Webhook), ReceiverDingTalk: !zeroDingTalk(r.DingTalk), ReceiverWeCom: !zeroWeCom(r.WeCom),
		ReceiverFeishu: !zeroFeishu(r.Feishu), ReceiverEmail: !zeroEmail(r.Email), ReceiverSMS: !zeroSMS(r.SMS),
		ReceiverPagerDuty: r.PagerDuty != (PagerDutyReceiver{}), ReceiverAlertmanager: r.Alertmanager.EndsAfter != 0 || len(r.Alertmanager.Labels) > 0,
	} {
		if set && block != r.Type {
			return fieldError(block, "set, but the type is %s", r.Type)
		}
	}
	return nil
}

var secretMeaning = map[string]string{
	ReceiverWebhook:   "the key that signs its requests",
	ReceiverSMS:       "the provider's API secret",
	ReceiverPagerDuty: "the integration key",
}

func (r *ReceiverConfig) keySet(key string) bool {
	switch key {
	case "secret_env":
		return r.SecretEnv != ""
	case "secret_file":
		return r.SecretFile != ""
	case "url_secret_env":
		return r.URLSecretEnv != ""
	case "url_secret_file":
		return r.URLSecretFile != ""
	case "webhook.authorization_secret_env":
		return r.Webhook.AuthorizationSecretEnv != ""
	case "webhook.authorization_secret_file":
		return r.Webhook.AuthorizationSecretFile != ""
	}
	return false
}

func cmpOr(d, def time.Duration) time.Duration {
	if d != 0 {
		return d
	}
	return def
}

func zeroWebhook(w WebhookReceiver) bool {
	return len(w.Headers) == 0 && w.MaxBytes == 0 && w.AuthorizationSecretEnv == "" && w.AuthorizationSecretFile == ""
}

func zeroDingTalk(d DingTalkReceiver) bool {
	return d.MsgType == "" && len(d.AtMobiles) == 0 && len(d.AtUserIDs) == 0 && !d.AtAll && d.Keyword == ""
}

func zeroWeCom(w WeComReceiver) bool {
	return w.MsgType == "" && len(w.MentionedList) == 0 && len(w.MentionedMobileList) == 0
}

func zeroFeishu(f FeishuReceiver) bool { return !f.AtAll && len(f.AtUserIDs) == 0 && f.Keyword == "" }

func zeroEmail(e EmailReceiver) bool {
	return e.Host == "" && e.Port == 0 && e.TLS == "" && e.CAFile == "" && e.ServerName == "" && e.Username == "" &&
		e.Hello == "" && e.From == "" && len(e.To) == 0 && len(e.Cc) == 0
}

func zeroSMS(s SMSReceiver) bool {
	return s.Provider == "" && len(s.To) == 0 && s.Twilio == (TwilioSMS{}) && s.Aliyun.AccessKeyID == "" &&
		s.Aliyun.SignName == "" && s.Aliyun.TemplateCode == "" && len(s.Aliyun.TemplateParams) == 0 &&
		s.Aliyun.MaxParamChars == 0 && s.Aliyun.RegionID == ""
}

// Secret resolves the receiver's secret_env or secret_file; "" when it
// has neither. getenv is os.Getenv outside tests.
func (r ReceiverConfig) Secret(getenv func(string) string) (string, error) {
	return r.resolve("secret", r.SecretEnv, r.SecretFile, getenv)
}

// URLSecret resolves url_secret_env or url_secret_file, or returns url.
func (r ReceiverConfig) URLSecret(getenv func(string) string) (string, error) {
	if r.URL != "" {
		return r.URL, nil
	}
	return r.resolve("url_secret", r.URLSecretEnv, r.URLSecretFile, getenv)
}

// AuthorizationSecret resolves a webhook's authorization_secret_env or _file.
func (r ReceiverConfig) AuthorizationSecret(getenv func(string) string) (string, error) {
	return r.resolve("webhook.authorization_secret", r.Webhook.AuthorizationSecretEnv, r.Webhook.AuthorizationSecretFile, getenv)
}

// resolve reads one secret; errors name the key, not the receiver. An empty
// variable or file is an error: a secret that silently went missing would
// only show later, as a vendor's refusal.
func (r ReceiverConfig) resolve(key, env, file string, getenv func(string) string) (string, error) {
	switch {
	case env != "":
		if getenv == nil {
			getenv = os.Getenv
		}
		v := strings.TrimSpace(getenv(env))
		if v == "" {
			return "", fmt.Errorf("%s_env: environment variable %s is empty or unset", key, env)
		}
		return v, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s_file: %w", key, err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("%s_file %s is empty", key, file)
		}
		return v, nil
	}
	return "", nil
}
