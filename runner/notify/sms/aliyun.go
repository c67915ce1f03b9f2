package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/internal/vendorhttp"
	"github.com/vigil-risk/vigil/runner/notify/template"
)

// AliyunVendor names Aliyun SMS in errors.
const AliyunVendor = "aliyun-sms"

// AliyunEndpoint is Dysmsapi's public endpoint.
const AliyunEndpoint = "https://dysmsapi.aliyuncs.com/"

// AliyunConfig is one Aliyun SMS sender: a signature and an approved
// template, sent to a list of numbers.
type AliyunConfig struct {
	AccessKeyID     string
	AccessKeySecret string   // a secret
	SignName        string   // the approved signature (签名)
	TemplateCode    string   // the approved template, e.g. SMS_123456789
	PhoneNumbers    []string // at most 1,000
	// TemplateParams maps the template's variables to Vigil's sms
	// templates ("status", "rule", "count", or one an operator's file
	// defines); default {status: status, rule: rule, count: count}.
	TemplateParams map[string]string
	MaxParamChars  int    // each value is cut to this many characters (default 35, Aliyun's limit for most variables)
	RegionID       string // default cn-hangzhou
	Endpoint       string // default AliyunEndpoint
	Signer         Signer // default an RPCSigner with the access key
}

// Aliyun sends through Dysmsapi SendSms.
type Aliyun struct {
	cfg    AliyunConfig
	tmpl   *template.Set
	opts   Options
	signer Signer
}

var _ notify.Channel = (*Aliyun)(nil)

var (
	mainlandOrIntl = regexp.MustCompile(`^(\+|00)?[0-9]{5,20}$`)
	paramName      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,24}$`)
)

// NewAliyun checks cfg; errors name the field.
func NewAliyun(cfg AliyunConfig, opts Options) (*Aliyun, error) {
	switch {
	case cfg.Signer == nil && cfg.AccessKeyID == "":
		return nil, errors.New("access_key_id: required")
	case cfg.Signer == nil && cfg.AccessKeySecret == "":
		return nil, errors.New("access key secret: required (from secret_env or secret_file)")
	case cfg.SignName == "":
		return nil, errors.New("sign_name: required (the approved signature)")
	case cfg.TemplateCode == "":
		return nil, errors.New("template_code: required (the approved template, e.g. SMS_123456789)")
	case len(cfg.PhoneNumbers) == 0:
		return nil, errors.New("to: at least one phone number")
	case len(cfg.PhoneNumbers) > 1000:
		return nil, fmt.Errorf("to: %d numbers, Aliyun takes at most 1000 a call", len(cfg.PhoneNumbers))
	}
	for i, n := range cfg.PhoneNumbers {
		if !mainlandOrIntl.MatchString(n) {
			return nil, fmt.Errorf("to[%d] %q: want a phone number (digits, optionally +/00 and a country code)", i, n)
		}
	}
	tmpl, err := opts.templates()
	if err != nil {
		return nil, err
	}
	if cfg.TemplateParams == nil {
		cfg.TemplateParams = map[string]string{"status": "status", "rule": "rule", "count": "count"}
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.TemplateParams)) {
		if !paramName.MatchString(name) {
			return nil, fmt.Errorf("template_params: %q is not a template variable name", name)
		}
		if _, err := tmpl.Execute(cfg.TemplateParams[name], tmpl.Data(template.Example(2, template.EN))); err != nil {
			return nil, fmt.Errorf("template_params: %s: %w", name, err)
		}
	}
	if cfg.MaxParamChars == 0 {
		cfg.MaxParamChars = 35
	}
	if cfg.RegionID == "" {
		cfg.RegionID = "cn-hangzhou"
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = AliyunEndpoint
	}
	if u, err := url.Parse(cfg.Endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("url %q: want an absolute http(s) URL", cfg.Endpoint)
	}
	signer := cfg.Signer
	if signer == nil {
		signer = RPCSigner{AccessKeyID: cfg.AccessKeyID, AccessKeySecret: cfg.AccessKeySecret, Now: opts.Now}
	}
	return &Aliyun{cfg: cfg, tmpl: tmpl, opts: opts, signer: signer}, nil
}

// Limits implements notify.Channel: Aliyun limits each number (a few a
// minute, tens a day), not the caller; the dispatcher's digests keep the
// count low.
func (c *Aliyun) Limits() notify.Limits { return notify.Limits{} }

// Render implements notify.Channel: one SendSms call to every number.
func (c *Aliyun) Render(m *notify.Message) ([]notify.Payload, error) {
	if len(m.Alerts) == 0 {
		return nil, errors.New("message has no alerts")
	}
	d := c.tmpl.Data(m)
	params := make(map[string]string, len(c.cfg.TemplateParams))
	for name, tmplName := range c.cfg.TemplateParams {
		v, err := c.tmpl.Execute(tmplName, d)
		if err != nil {
			return nil, fmt.Errorf("template_params: %s: %w", name, err)
		}
		params[name] = template.Truncate(c.cfg.MaxParamChars, v)
	}
	tp, err := json.Marshal(params) // TemplateParam is a JSON string of string values
	if err != nil {
		return nil, err
	}
	form := url.Values{
		"Action": {"SendSms"}, "Version": {"2017-05-25"}, "RegionId": {c.cfg.RegionID},
		"PhoneNumbers": {strings.Join(c.cfg.PhoneNumbers, ",")}, "SignName": {c.cfg.SignName},
		"TemplateCode": {c.cfg.TemplateCode}, "TemplateParam": {string(tp)},
		"OutId": {template.Truncate(64, m.IdempotencyKey)}, // SendSms is not idempotent: the id ties receipts to the message
	}
	return []notify.Payload{{Body: []byte(form.Encode()), ContentType: "application/x-www-form-urlencoded", Part: 1, Parts: 1,
		Summary: template.Summary(d), IdempotencyKey: m.IdempotencyKey}}, nil
}

// Send implements notify.Channel, signing the call now.
func (c *Aliyun) Send(ctx context.Context, p notify.Payload) (bool, error) {
	params, err := url.ParseQuery(string(p.Body))
	if err != nil {
		return false, fmt.Errorf("%s: payload: %w", AliyunVendor, err)
	}
	req, err := c.signer.Request(ctx, c.cfg.Endpoint, params)
	if err != nil {
		return false, fmt.Errorf("%s: sign: %w", AliyunVendor, err)
	}
	req.Header.Set("User-Agent", vendorhttp.UserAgent)
	a, err := vendorhttp.Do(c.opts.Client, req)
	if err != nil {
		return true, fmt.Errorf("%s: %w", AliyunVendor, err)
	}
	var r struct {
		Code    string `json:"Code"`
		Message string `json:"Message"`
	}
	if json.Unmarshal(a.Body, &r) != nil || r.Code == "" {
		if !a.OK() {
			return vendorhttp.StatusFailure(AliyunVendor, a)
		}
		return true, fmt.Errorf("%s: HTTP %d with an answer that is not Aliyun's: %s", AliyunVendor, a.Status, vendorhttp.OneLine(a.Body, 256))
	}
	if r.Code == "OK" && a.OK() {
		return false, nil
	}
	retry, err := vendorhttp.Failure(AliyunVendor, a, aliyunRetry(r.Code) || vendorhttp.RetryStatus(a.Status), r.Code, vendorhttp.OneLine([]byte(r.Message), 256))
	if r.Code == "isv.BUSINESS_LIMIT_CONTROL" {
		err = &notify.RetryAfterError{Err: err, After: time.Minute} // per-number flow control: at most one a minute
	}
	return retry, err
}

// aliyunRetry says which of Aliyun's codes are worth another try: flow
// control, throttling, a system error, a nonce that happened to repeat.
func aliyunRetry(code string) bool {
	return code == "isv.BUSINESS_LIMIT_CONTROL" || code == "isp.SYSTEM_ERROR" || code == "SignatureNonceUsed" ||
		code == "ServiceUnavailable" || code == "InternalError" || strings.HasPrefix(code, "Throttling")
}
