package receiver_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/alertmanager"
	"github.com/vigil-risk/vigil/runner/notify/dingtalk"
	"github.com/vigil-risk/vigil/runner/notify/email"
	"github.com/vigil-risk/vigil/runner/notify/feishu"
	"github.com/vigil-risk/vigil/runner/notify/logchan"
	"github.com/vigil-risk/vigil/runner/notify/pagerduty"
	"github.com/vigil-risk/vigil/runner/notify/receiver"
	"github.com/vigil-risk/vigil/runner/notify/slack"
	"github.com/vigil-risk/vigil/runner/notify/sms"
	"github.com/vigil-risk/vigil/runner/notify/template"
	"github.com/vigil-risk/vigil/runner/notify/webhook"
	"github.com/vigil-risk/vigil/runner/notify/wecom"
)

var at = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// capture records what local servers receive, by path.
type capture struct {
	mu   sync.Mutex
	reqs map[string][]*http.Request
	body map[string][][]byte
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.reqs[r.URL.Path] = append(c.reqs[r.URL.Path], r)
	c.body[r.URL.Path] = append(c.body[r.URL.Path], b)
	c.mu.Unlock()
	switch {
	case strings.HasPrefix(r.URL.Path, "/robot/"), strings.HasPrefix(r.URL.Path, "/cgi-bin/"):
		io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	case strings.HasPrefix(r.URL.Path, "/open-apis/"):
		io.WriteString(w, `{"code":0,"msg":"success","data":{}}`)
	case r.URL.Path == "/v2/enqueue":
		w.WriteHeader(202)
		io.WriteString(w, `{"status":"success","message":"Event processed"}`)
	case strings.HasPrefix(r.URL.Path, "/2010-04-01/"):
		w.WriteHeader(201)
		io.WriteString(w, `{"sid":"SM1","status":"queued"}`)
	case r.URL.Path == "/sms/":
		io.WriteString(w, `{"Code":"OK","Message":"OK"}`)
	default:
		io.WriteString(w, "ok")
	}
}

func TestBuildEveryType(t *testing.T) {
	c := &capture{reqs: map[string][]*http.Request{}, body: map[string][][]byte{}}
	srv := httptest.NewServer(c)
	defer srv.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "pd-key"), []byte("R0UT1NGKEY0123456789abcdefABCDEF\n"), 0o600)
	tmplFile := filepath.Join(dir, "ding.tmpl")
	os.WriteFile(tmplFile, []byte(`{{define "title"}}风控 {{.Total}}{{end}}`), 0o600)
	env := map[string]string{
		"HOOK_SECRET": "hmac-key", "HOOK_AUTH": "Bearer abc",
		"DING_URL": srv.URL + "/robot/send?access_token=t0k", "DING_SECRET": "SECxyz",
		"WECOM_URL": srv.URL + "/cgi-bin/webhook/send?key=k3y", "FEISHU_URL": srv.URL + "/open-apis/bot/v2/hook/h00k",
		"SLACK_URL": srv.URL + "/services/T1/B1/s3cret", "SMTP_PASSWORD": "pw", "ALIYUN_SECRET": "ak-secret", "TWILIO_TOKEN": "tw-token",
		"AM_TOKEN": "am-token",
	}
	var logs bytes.Buffer
	cfgs := []config.ReceiverConfig{
		{Name: "console", Type: "log"},
		{Name: "hook", Type: "webhook", URL: srv.URL + "/hook", SecretEnv: "HOOK_SECRET", Timeout: 3 * time.Second,
			Webhook: config.WebhookReceiver{Headers: map[string]string{"X-Team": "risk"}, AuthorizationSecretEnv: "HOOK_AUTH"}},
		{Name: "ding", Type: "dingtalk", URLSecretEnv: "DING_URL", SecretEnv: "DING_SECRET", Locale: "zh", Timezone: "Asia/Shanghai", Template: tmplFile,
			DingTalk: config.DingTalkReceiver{AtMobiles: []string{"13800001111"}}},
		{Name: "wecom", Type: "wecom", URLSecretEnv: "WECOM_URL"},
		{Name: "feishu", Type: "feishu", URLSecretEnv: "FEISHU_URL"},
		{Name: "slack", Type: "slack", URLSecretEnv: "SLACK_URL"},
		{Name: "mail", Type: "email", SecretEnv: "SMTP_PASSWORD",
			Email: config.EmailReceiver{Host: "smtp.example.com", Username: "vigil", From: "vigil@example.com", To: []string{"oncall@example.com"}}},
		{Name: "sms-cn", Type: "sms", URL: srv.URL + "/sms/", SecretEnv: "ALIYUN_SECRET",
			SMS: config.SMSReceiver{Provider: "aliyun", To: []string{"13800001111"}, Aliyun: config.AliyunSMS{AccessKeyID: "LTAI", SignName: "风控", TemplateCode: "SMS_1"}}},
		{Name: "sms-us", Type: "sms", URL: srv.URL, SecretEnv: "TWILIO_TOKEN",
			SMS: config.SMSReceiver{Provider: "twilio", To: []string{"+15558675310"}, Twilio: config.TwilioSMS{AccountSID: "AC1", From: "+15017122661"}}},
		{Name: "pd", Type: "pagerduty", URL: srv.URL + "/v2/enqueue", SecretFile: filepath.Join(dir, "pd-key")},
		{Name: "am", Type: "alertmanager", URL: srv.URL + "/am", SecretEnv: "AM_TOKEN", Alertmanager: config.AlertmanagerReceiver{Labels: map[string]string{"source": "vigil"}}},
	}
	rs, err := receiver.Build(cfgs, receiver.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), LinkBase: "https://vigil.example.com",
		Getenv: func(k string) string { return env[k] }, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	wantTypes := []notify.Channel{(*logchan.Channel)(nil), (*webhook.Channel)(nil), (*dingtalk.Channel)(nil), (*wecom.Channel)(nil), (*feishu.Channel)(nil),
		(*slack.Channel)(nil), (*email.Channel)(nil), (*sms.Aliyun)(nil), (*sms.Twilio)(nil), (*pagerduty.Channel)(nil), (*alertmanager.Channel)(nil)}
	if len(rs) != len(cfgs) {
		t.Fatalf("%d receivers", len(rs))
	}
	for i, r := range rs {
		if r.Name != cfgs[i].Name || r.Channel == nil || fmt.Sprintf("%T", r.Channel) != fmt.Sprintf("%T", wantTypes[i]) {
			t.Errorf("receiver %d = %s %T, want %s %T", i, r.Name, r.Channel, cfgs[i].Name, wantTypes[i])
		}
	}
	if rs[1].Timeout != 3*time.Second || rs[0].Timeout != config.DefaultReceiverTimeout || rs[2].Locale != "zh" || rs[0].Locale != "en" {
		t.Errorf("timeouts %s %s, locales %s %s", rs[1].Timeout, rs[0].Timeout, rs[2].Locale, rs[0].Locale)
	}

	// Every HTTP channel delivers to where its secrets say, with them.
	m := template.Example(1, "")
	for _, r := range rs {
		if r.Name == "mail" {
			continue // e-mail is tested against a real SMTP server in its package
		}
		ps, err := r.Channel.Render(m)
		if err != nil {
			t.Fatalf("%s: Render: %v", r.Name, err)
		}
		for _, p := range ps {
			if retry, err := r.Channel.Send(t.Context(), p); err != nil {
				t.Errorf("%s: Send = %v, %v", r.Name, retry, err)
			}
		}
	}
	hook := c.reqs["/hook"][0]
	if hook.Header.Get("Authorization") != "Bearer abc" || hook.Header.Get("X-Team") != "risk" ||
		webhook.Verify("hmac-key", hook.Header.Get(webhook.TimestampHeader), hook.Header.Get(webhook.SignatureHeader), c.body["/hook"][0], at, time.Minute) != nil {
		t.Errorf("webhook request headers %v", hook.Header)
	}
	ding := c.reqs["/robot/send"][0].URL.Query()
	if ding.Get("access_token") != "t0k" || ding.Get("sign") != dingtalk.Sign("SECxyz", at.UnixMilli()) {
		t.Errorf("dingtalk query %v", ding)
	}
	var dm map[string]map[string]any
	json.Unmarshal(c.body["/robot/send"][0], &dm)
	if dm["markdown"]["title"] != "风控 1" || !strings.Contains(dm["markdown"]["text"].(string), "2026-03-01 16:00:00 CST") {
		t.Errorf("dingtalk markdown: template override or time zone lost: %v", dm["markdown"])
	}
	if len(c.reqs["/cgi-bin/webhook/send"]) != 1 || len(c.reqs["/open-apis/bot/v2/hook/h00k"]) != 1 || len(c.reqs["/services/T1/B1/s3cret"]) != 1 ||
		len(c.reqs["/sms/"]) != 1 || len(c.reqs["/2010-04-01/Accounts/AC1/Messages.json"]) != 1 || len(c.reqs["/v2/enqueue"]) != 1 {
		t.Errorf("requests by path: %v", keys(c.reqs))
	}
	if !strings.Contains(string(c.body["/v2/enqueue"][0]), `"routing_key":"R0UT1NGKEY0123456789abcdefABCDEF"`) {
		t.Errorf("pagerduty body %s", c.body["/v2/enqueue"][0])
	}
	if am := c.reqs["/am/api/v2/alerts"]; len(am) != 1 || am[0].Header.Get("Authorization") != "Bearer am-token" {
		t.Errorf("alertmanager requests %v", am)
	}
	if !strings.Contains(logs.String(), "rule=card_testing") {
		t.Errorf("log receiver wrote %q", logs.String())
	}
}

func keys(m map[string][]*http.Request) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestBuildReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.tmpl")
	os.WriteFile(bad, []byte("{{define \"title\"}}\n{{.Nope}}{{end}}"), 0o600)
	broken := filepath.Join(dir, "broken.tmpl")
	os.WriteFile(broken, []byte("{{define \"text\"}}{{if}}{{end}}"), 0o600)
	env := map[string]string{"DING_URL": "https://oapi.dingtalk.com/robot/send?access_token=x"}
	_, err := receiver.Build([]config.ReceiverConfig{
		{Name: "ding", Type: "dingtalk", URLSecretEnv: "UNSET"},
		{Name: "ding2", Type: "dingtalk", URLSecretEnv: "DING_URL", Template: bad},
		{Name: "ding3", Type: "dingtalk", URLSecretEnv: "DING_URL", Template: broken},
		{Name: "ding4", Type: "dingtalk", URLSecretEnv: "DING_URL", DingTalk: config.DingTalkReceiver{AtMobiles: []string{"138 0000"}}},
		{Name: "pd", Type: "pagerduty", SecretFile: filepath.Join(dir, "missing")},
		{Name: "pd2", Type: "pagerduty", SecretFile: writeFile(t, dir, "short", "abc")},
		{Name: "mail", Type: "email", Email: config.EmailReceiver{Host: "smtp.example.com", From: "nope", To: []string{"a@example.com"}}},
		{Name: "hook", Type: "log", Template: bad},
		{Name: "ding", Type: "log"},
		{Name: "what", Type: "pager"},
	}, receiver.Options{Getenv: func(k string) string { return env[k] }})
	if err == nil {
		t.Fatal("Build succeeded")
	}
	for _, want := range []string{
		"notify.receivers[ding]: url_secret_env: environment variable UNSET is empty or unset",
		`notify.receivers[ding2]: template ` + bad + `: template: ` + bad + `:2:2: executing "title" at <.Nope>: can't evaluate field Nope`,
		`notify.receivers[ding3]: template ` + broken + `: template: ` + broken + `:1: missing value for if`,
		`notify.receivers[ding4]: dingtalk: at_mobiles[0] "138 0000": want a mobile number`,
		"notify.receivers[pd]: secret_file: open " + filepath.Join(dir, "missing"),
		"notify.receivers[pd2]: pagerduty: routing key: want the 32-character integration key, have 3 characters",
		`notify.receivers[mail]: email: from "nope": mail: missing '@' or angle-addr`,
		"notify.receivers[hook]: template: a log receiver has no templates",
		"notify.receivers[ding]: name: missing or used twice",
		`notify.receivers[what]: type "pager": want one of`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "access_token=x") {
		t.Errorf("error shows a token:\n%v", err)
	}
}

func writeFile(t *testing.T, dir, name, body string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
