package sms_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/sms"
	"github.com/vigil-risk/vigil/runner/notify/template"
)

// Both test vectors Aliyun publishes for the RPC signature: the ECS one and
// the SMS one (reference sheet §1.7).
func TestSignRPCPublishedVectors(t *testing.T) {
	for _, tc := range []struct {
		name, secret, sig, sts string
		params                 url.Values
	}{
		{
			name: "ECS DescribeRegions", secret: "testsecret", sig: "OLeaidS1JvxuMvnyHOwuJ+uX5qY=",
			sts: "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26",
			params: url.Values{"AccessKeyId": {"testid"}, "Action": {"DescribeRegions"}, "Format": {"XML"}, "SignatureMethod": {"HMAC-SHA1"},
				"SignatureNonce": {"3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"}, "SignatureVersion": {"1.0"}, "Timestamp": {"2016-02-23T12:46:24Z"}, "Version": {"2014-05-26"}},
		},
		{
			name: "SMS SendSms", secret: "testSecret", sig: "zJDF+Lrzhj/ThnlvIToysFRq6t4=",
			params: url.Values{"AccessKeyId": {"testId"}, "Action": {"SendSms"}, "Format": {"XML"}, "OutId": {"123"}, "PhoneNumbers": {"15300000001"},
				"RegionId": {"cn-hangzhou"}, "SignName": {"阿里云短信测试专用"}, "SignatureMethod": {"HMAC-SHA1"},
				"SignatureNonce": {"45e25e9b-0a6f-4070-8c85-2956eda1b466"}, "SignatureVersion": {"1.0"}, "TemplateCode": {"SMS_71390007"},
				"TemplateParam": {`{"customer":"test"}`}, "Timestamp": {"2017-07-12T02:42:19Z"}, "Version": {"2017-05-25"}},
		},
	} {
		sig, sts := sms.SignRPC("GET", tc.secret, tc.params)
		if sig != tc.sig {
			t.Errorf("%s: signature %s, want %s", tc.name, sig, tc.sig)
		}
		if tc.sts != "" && sts != tc.sts {
			t.Errorf("%s: string to sign\n%s\nwant\n%s", tc.name, sts, tc.sts)
		}
		if got := sms.PercentEncode(sig); tc.name == "SMS SendSms" && got != "zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D" {
			t.Errorf("URL form %s", got)
		}
	}
	if got := sms.PercentEncode("a b*c~d/é"); got != "a%20b%2Ac~d%2F%C3%A9" {
		t.Errorf("PercentEncode = %s", got)
	}
}

// dysms is a local Dysmsapi: it recomputes the RPC signature from the
// access key's secret and checks SendSms's parameters against an approved
// signature and template, answering as Aliyun does.
type dysms struct {
	*httptest.Server
	t        *testing.T
	keyID    string
	secret   string
	now      time.Time
	template *regexp.Regexp // the approved template's variables

	mu     sync.Mutex
	nonces map[string]bool
	sent   []url.Values
	force  func(w http.ResponseWriter, req *http.Request) bool
}

func newDysms(t *testing.T) *dysms {
	d := &dysms{t: t, keyID: "LTAI5tTestKeyId", secret: "s3cretKeySecret", now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
		template: regexp.MustCompile(`\$\{(\w+)\}`), nonces: map[string]bool{}}
	d.Server = httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(d.Close)
	return d
}

// approved is the template the operator had approved.
const approved = "Vigil ${status}：${rule} 等 ${count} 条告警，请登录控制台处理。"

func reply(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"Code": code, "Message": msg, "RequestId": "F655A8D5-B967-440B-8683-DAD6FF8DE990", "BizId": "900619746936498440^0"})
	w.Write(b)
}

func (d *dysms) serve(w http.ResponseWriter, req *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.force != nil && d.force(w, req) {
		return
	}
	if req.Method != http.MethodPost || req.URL.Path != "/" || req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		d.t.Errorf("request %s %s %q", req.Method, req.URL.Path, req.Header.Get("Content-Type"))
	}
	raw, _ := io.ReadAll(req.Body)
	p, err := url.ParseQuery(string(raw))
	if err != nil {
		reply(w, 400, "MissingParameter", "bad form")
		return
	}
	for k, want := range map[string]string{"Action": "SendSms", "Version": "2017-05-25", "Format": "JSON", "SignatureMethod": "HMAC-SHA1",
		"SignatureVersion": "1.0", "RegionId": "cn-hangzhou"} {
		if p.Get(k) != want {
			reply(w, 400, "MissingParameter", k+" is mandatory for this action")
			return
		}
	}
	if p.Get("AccessKeyId") != d.keyID {
		reply(w, 404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
		return
	}
	ts, err := time.Parse("2006-01-02T15:04:05Z", p.Get("Timestamp"))
	if err != nil || d.now.Sub(ts).Abs() > 15*time.Minute {
		reply(w, 400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
		return
	}
	if sig, sts := sms.SignRPC("POST", d.secret, p); p.Get("Signature") != sig {
		reply(w, 400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation. server string to sign is:"+sts)
		return
	}
	if n := p.Get("SignatureNonce"); n == "" || d.nonces[n] {
		reply(w, 400, "SignatureNonceUsed", "Specified signature nonce was used already.")
		return
	}
	d.nonces[p.Get("SignatureNonce")] = true
	for _, n := range strings.Split(p.Get("PhoneNumbers"), ",") {
		if !regexp.MustCompile(`^1[3-9][0-9]{9}$`).MatchString(n) {
			reply(w, 200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
			return
		}
	}
	if p.Get("SignName") != "风控中心" {
		reply(w, 200, "isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
		return
	}
	if p.Get("TemplateCode") != "SMS_271550001" {
		reply(w, 200, "isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
		return
	}
	var vars map[string]any
	if json.Unmarshal([]byte(p.Get("TemplateParam")), &vars) != nil {
		reply(w, 200, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
		return
	}
	for _, m := range d.template.FindAllStringSubmatch(approved, -1) {
		v, ok := vars[m[1]].(string)
		switch {
		case !ok && vars[m[1]] != nil:
			reply(w, 200, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
			return
		case v == "":
			reply(w, 200, "isv.TEMPLATE_MISSING_PARAMETERS", "模板缺少变量")
			return
		case utf8.RuneCountInString(v) > 35:
			reply(w, 200, "isv.PARAM_LENGTH_LIMIT", "参数超出长度限制")
			return
		}
	}
	d.sent = append(d.sent, p)
	reply(w, 200, "OK", "OK")
}

func newAliyun(t *testing.T, d *dysms, mod func(*sms.AliyunConfig), topts template.Options) *sms.Aliyun {
	t.Helper()
	set, err := template.New("sms", topts)
	if err != nil {
		t.Fatal(err)
	}
	cfg := sms.AliyunConfig{AccessKeyID: d.keyID, AccessKeySecret: d.secret, SignName: "风控中心", TemplateCode: "SMS_271550001",
		PhoneNumbers: []string{"13800001111", "13900002222"}, Endpoint: d.URL + "/"}
	if mod != nil {
		mod(&cfg)
	}
	now := d.now // the sender's clock, which may drift from the server's
	c, err := sms.NewAliyun(cfg, sms.Options{Templates: set, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAliyunSendSms(t *testing.T) {
	d := newDysms(t)
	c := newAliyun(t, d, nil, template.Options{})
	for _, tc := range []struct {
		n      int
		locale string
		want   map[string]string
	}{
		{3, template.ZH, map[string]string{"status": "告警", "rule": "新设备大额交易", "count": "3"}},
		{1, template.EN, map[string]string{"status": "alert", "rule": "Card testing burst", "count": "1"}},
	} {
		m := template.Example(tc.n, tc.locale)
		ps, err := c.Render(m)
		if err != nil || len(ps) != 1 {
			t.Fatalf("Render = %v, %v", ps, err)
		}
		if strings.Contains(string(ps[0].Body), d.secret) || strings.Contains(string(ps[0].Body), "Signature") {
			t.Fatal("the payload is stored signed")
		}
		// Sent twice: a retry is signed anew, with a fresh nonce.
		for range 2 {
			if retry, err := c.Send(t.Context(), ps[0]); err != nil {
				t.Fatalf("Send = %v, %v", retry, err)
			}
		}
		got := d.sent[len(d.sent)-1]
		var vars map[string]string
		json.Unmarshal([]byte(got.Get("TemplateParam")), &vars)
		if fmt.Sprint(vars) != fmt.Sprint(tc.want) || got.Get("PhoneNumbers") != "13800001111,13900002222" || got.Get("OutId") != "example-key" {
			t.Errorf("%s: sent %v, template variables %v", tc.locale, got, vars)
		}
	}
}

func TestAliyunTemplateParamsAndOverride(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sms.tmpl")
	os.WriteFile(file, []byte(`{{define "entity"}}{{.First.Entity.Value}}{{end}}{{define "rule"}}{{(index .Rules 0).Rule}} rule, which has a very long name indeed{{end}}`), 0o600)
	d := newDysms(t)
	d.template = regexp.MustCompile(`\$\{(\w+)\}`)
	c := newAliyun(t, d, func(cfg *sms.AliyunConfig) {
		cfg.TemplateParams = map[string]string{"status": "status", "rule": "rule", "count": "count", "who": "entity"}
	}, template.Options{File: file})
	ps, err := c.Render(template.Example(1, template.EN))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(t.Context(), ps[0]); err != nil {
		t.Fatal(err)
	}
	var vars map[string]string
	json.Unmarshal([]byte(d.sent[0].Get("TemplateParam")), &vars)
	if vars["who"] != "e-100000" || vars["rule"] != "card_testing rule, which has a ver…" || utf8.RuneCountInString(vars["rule"]) != 35 {
		t.Errorf("variables = %v", vars)
	}

	set, _ := template.New("sms", template.Options{})
	_, err = sms.NewAliyun(sms.AliyunConfig{AccessKeyID: "a", AccessKeySecret: "b", SignName: "s", TemplateCode: "t", PhoneNumbers: []string{"13800001111"},
		TemplateParams: map[string]string{"who": "entity"}}, sms.Options{Templates: set})
	if err == nil || !strings.Contains(err.Error(), `template_params: who: no template "entity"`) {
		t.Errorf("an unknown template: %v", err)
	}
}

func TestAliyunAnswers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mod     func(*sms.AliyunConfig)
		skew    time.Duration
		force   func(w http.ResponseWriter, req *http.Request) bool
		timeout bool
		retry   bool
		code    string
		wait    time.Duration
	}{
		{name: "wrong secret", mod: func(c *sms.AliyunConfig) { c.AccessKeySecret = "nope" }, code: "SignatureDoesNotMatch"},
		{name: "unknown key", mod: func(c *sms.AliyunConfig) { c.AccessKeyID = "LTAIgone" }, code: "InvalidAccessKeyId.NotFound"},
		{name: "clock skew", skew: time.Hour, code: "InvalidTimeStamp.Expired"},
		{name: "bad number", mod: func(c *sms.AliyunConfig) { c.PhoneNumbers = []string{"12345"} }, code: "isv.MOBILE_NUMBER_ILLEGAL"},
		{name: "unapproved sign", mod: func(c *sms.AliyunConfig) { c.SignName = "别的签名" }, code: "isv.SMS_SIGNATURE_ILLEGAL"},
		{name: "missing variable", mod: func(c *sms.AliyunConfig) { c.TemplateParams = map[string]string{"status": "status"} }, code: "isv.TEMPLATE_MISSING_PARAMETERS"},
		{name: "too long", mod: func(c *sms.AliyunConfig) { c.MaxParamChars = 100 }, code: "isv.PARAM_LENGTH_LIMIT"},
		{name: "flow control", retry: true, code: "isv.BUSINESS_LIMIT_CONTROL", wait: time.Minute,
			force: func(w http.ResponseWriter, req *http.Request) bool {
				reply(w, 200, "isv.BUSINESS_LIMIT_CONTROL", "触发号码天级流控Permits:10")
				return true
			}},
		{name: "throttling", retry: true, code: "Throttling.User",
			force: func(w http.ResponseWriter, req *http.Request) bool {
				reply(w, 400, "Throttling.User", "Request was denied due to user flow control.")
				return true
			}},
		{name: "system error", retry: true, code: "isp.SYSTEM_ERROR",
			force: func(w http.ResponseWriter, req *http.Request) bool {
				reply(w, 200, "isp.SYSTEM_ERROR", "系统错误")
				return true
			}},
		{name: "HTTP 503", retry: true,
			force: func(w http.ResponseWriter, req *http.Request) bool { http.Error(w, "unavailable", 503); return true }},
		{name: "timeout", retry: true, timeout: true,
			force: func(w http.ResponseWriter, req *http.Request) bool {
				io.Copy(io.Discard, req.Body)
				<-req.Context().Done()
				return true
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDysms(t)
			d.force = tc.force
			c := newAliyun(t, d, func(cfg *sms.AliyunConfig) {
				cfg.TemplateParams = map[string]string{"status": "status", "rule": "rule", "count": "count"}
				if tc.mod != nil {
					tc.mod(cfg)
				}
			}, template.Options{})
			if tc.skew > 0 {
				d.now = d.now.Add(tc.skew)
			}
			m := template.Example(1, template.EN)
			if tc.name == "too long" {
				m.Alerts[0].Title = strings.Repeat("long title ", 8)
			}
			ps, err := c.Render(m)
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			if tc.timeout {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
				defer cancel()
			}
			retry, err := c.Send(ctx, ps[0])
			if err == nil || retry != tc.retry {
				t.Fatalf("Send = %v, %v; want retry %v and an error", retry, err, tc.retry)
			}
			if tc.timeout {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("error = %v", err)
				}
				return
			}
			var ve *notify.VendorError
			if !errors.As(err, &ve) || ve.Code != tc.code || ve.Vendor != "aliyun-sms" || strings.Contains(err.Error(), d.secret) {
				t.Errorf("error %v: want a VendorError with code %q, without the secret", err, tc.code)
			}
			var wait interface{ RetryAfter() time.Duration }
			if tc.wait > 0 && (!errors.As(err, &wait) || wait.RetryAfter() != tc.wait) {
				t.Errorf("error %v: want it to ask for %s", err, tc.wait)
			}
		})
	}
}

// A different signing scheme plugs in without the channel changing.
type headerSigner struct{ calls int }

func (s *headerSigner) Request(ctx context.Context, endpoint string, params url.Values) (*http.Request, error) {
	s.calls++
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(params.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "ACS3-HMAC-SHA256 Credential=test")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

func TestSwappableSigner(t *testing.T) {
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		auth = req.Header.Get("Authorization")
		req.ParseForm()
		if req.PostForm.Get("Action") != "SendSms" || req.PostForm.Get("Signature") != "" {
			reply(w, 400, "MissingParameter", "Action")
			return
		}
		reply(w, 200, "OK", "OK")
	}))
	defer srv.Close()
	s := &headerSigner{}
	c, err := sms.NewAliyun(sms.AliyunConfig{Signer: s, SignName: "风控中心", TemplateCode: "SMS_1", PhoneNumbers: []string{"13800001111"}, Endpoint: srv.URL}, sms.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ps, _ := c.Render(template.Example(1, template.ZH))
	if _, err := c.Send(t.Context(), ps[0]); err != nil || s.calls != 1 || auth != "ACS3-HMAC-SHA256 Credential=test" {
		t.Errorf("Send = %v, signer calls %d, Authorization %q", err, s.calls, auth)
	}
}

func TestNewAliyunRejectsBadConfig(t *testing.T) {
	ok := sms.AliyunConfig{AccessKeyID: "a", AccessKeySecret: "b", SignName: "s", TemplateCode: "t", PhoneNumbers: []string{"13800001111"}}
	for _, tc := range []struct {
		mod  func(*sms.AliyunConfig)
		want string
	}{
		{func(c *sms.AliyunConfig) { c.AccessKeyID = "" }, "access_key_id: required"},
		{func(c *sms.AliyunConfig) { c.AccessKeySecret = "" }, "access key secret: required"},
		{func(c *sms.AliyunConfig) { c.SignName = "" }, "sign_name: required"},
		{func(c *sms.AliyunConfig) { c.TemplateCode = "" }, "template_code: required"},
		{func(c *sms.AliyunConfig) { c.PhoneNumbers = nil }, "to: at least one"},
		{func(c *sms.AliyunConfig) { c.PhoneNumbers = []string{"call me"} }, `to[0] "call me"`},
		{func(c *sms.AliyunConfig) { c.TemplateParams = map[string]string{"1x": "rule"} }, `template_params: "1x" is not a template variable name`},
	} {
		cfg := ok
		tc.mod(&cfg)
		if _, err := sms.NewAliyun(cfg, sms.Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewAliyun = %v, want it to mention %q", err, tc.want)
		}
	}
}
