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

const (
	accountSID = "AC0123456789abcdef0123456789abcdef"
	authToken  = "twilio-auth-token"
)

// twilioAPI is a local Twilio Messages API: Basic auth with the account
// SID and token, the documented form fields, and Twilio's answers.
type twilioAPI struct {
	*httptest.Server
	t *testing.T

	mu    sync.Mutex
	sent  []url.Values
	force func(w http.ResponseWriter, req *http.Request) bool
}

func newTwilio(t *testing.T) *twilioAPI {
	a := &twilioAPI{t: t}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

func twilioError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"code": code, "message": msg, "more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": status})
	w.Write(b)
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

func (a *twilioAPI) serve(w http.ResponseWriter, req *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.force != nil && a.force(w, req) {
		return
	}
	if req.Method != http.MethodPost || req.URL.Path != "/2010-04-01/Accounts/"+accountSID+"/Messages.json" {
		twilioError(w, 404, 20404, "The requested resource was not found")
		return
	}
	if user, pass, ok := req.BasicAuth(); !ok || user != accountSID || pass != authToken {
		twilioError(w, 401, 20003, "Authenticate")
		return
	}
	if req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		a.t.Errorf("Content-Type %q", req.Header.Get("Content-Type"))
	}
	raw, _ := io.ReadAll(req.Body)
	f, _ := url.ParseQuery(string(raw))
	switch {
	case !e164.MatchString(f.Get("To")):
		twilioError(w, 400, 21211, fmt.Sprintf("The 'To' number %s is not a valid phone number.", f.Get("To")))
		return
	case f.Get("From") == "" && f.Get("MessagingServiceSid") == "":
		twilioError(w, 400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message")
		return
	case f.Get("Body") == "" || utf8.RuneCountInString(f.Get("Body")) > sms.MaxTwilioBody:
		twilioError(w, 400, 21617, "The concatenated message body exceeds the 1600 character limit")
		return
	}
	a.sent = append(a.sent, f)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(201)
	b, _ := json.Marshal(map[string]any{"sid": fmt.Sprintf("SM%032d", len(a.sent)), "status": "queued", "to": f.Get("To"), "from": f.Get("From"),
		"body": f.Get("Body"), "error_code": nil, "account_sid": accountSID})
	w.Write(b)
}

func newTwilioChannel(t *testing.T, a *twilioAPI, mod func(*sms.TwilioConfig), topts template.Options) *sms.Twilio {
	t.Helper()
	topts.LinkBase = "https://vigil.example.com"
	set, err := template.New("sms", topts)
	if err != nil {
		t.Fatal(err)
	}
	cfg := sms.TwilioConfig{AccountSID: accountSID, AuthToken: authToken, From: "+15017122661", To: []string{"+15558675310", "+8613800001111"}, Endpoint: a.URL}
	if mod != nil {
		mod(&cfg)
	}
	c, err := sms.NewTwilio(cfg, sms.Options{Templates: set})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTwilioOneMessagePerRecipient(t *testing.T) {
	a := newTwilio(t)
	c := newTwilioChannel(t, a, nil, template.Options{})
	ps, err := c.Render(template.Example(1, template.EN))
	if err != nil || len(ps) != 2 || ps[1].IdempotencyKey != "example-key-2" || ps[1].Parts != 2 {
		t.Fatalf("Render = %+v, %v", ps, err)
	}
	for _, p := range ps {
		if retry, err := c.Send(t.Context(), p); err != nil {
			t.Fatalf("Send = %v, %v", retry, err)
		}
	}
	if len(a.sent) != 2 || a.sent[0].Get("To") != "+15558675310" || a.sent[1].Get("To") != "+8613800001111" || a.sent[0].Get("From") != "+15017122661" {
		t.Fatalf("sent %v", a.sent)
	}
	if body := a.sent[0].Get("Body"); body != "Vigil [FIRING:1] Card testing burst · card_id=e-100000 https://vigil.example.com/alerts/1000" {
		t.Errorf("Body = %q", body)
	}
}

func TestTwilioChineseLongAndOverride(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sms.tmpl")
	os.WriteFile(file, []byte(`{{define "text"}}RISK {{.Total}}:{{range .Alerts}} {{.Rule}}/{{.Entity.Value}}{{end}}{{end}}`), 0o600)
	for _, tc := range []struct {
		topts template.Options
		n     int
		want  string
	}{
		{template.Options{}, 3, "Vigil 【告警:2】3 条规则共 3 条告警 https://vigil.example.com/alerts"},
		{template.Options{File: file}, 2, "RISK 2: card_testing/e-100000 new_device_high_amount/e-100001"},
	} {
		a := newTwilio(t)
		c := newTwilioChannel(t, a, func(cfg *sms.TwilioConfig) { cfg.From, cfg.MessagingServiceSID = "", "MG0001" }, tc.topts)
		ps, _ := c.Render(template.Example(tc.n, template.ZH))
		if _, err := c.Send(t.Context(), ps[0]); err != nil {
			t.Fatal(err)
		}
		if a.sent[0].Get("Body") != tc.want || a.sent[0].Get("MessagingServiceSid") != "MG0001" {
			t.Errorf("sent %v, want body %q", a.sent[0], tc.want)
		}
	}
	// 300 alerts stay one text within 1,600 characters.
	file2 := filepath.Join(t.TempDir(), "all.tmpl")
	os.WriteFile(file2, []byte(`{{define "text"}}{{range .Alerts}}{{.Title}} {{.Entity}}; {{end}}{{end}}`), 0o600)
	a := newTwilio(t)
	c := newTwilioChannel(t, a, nil, template.Options{File: file2})
	ps, _ := c.Render(template.Example(300, template.EN))
	if _, err := c.Send(t.Context(), ps[0]); err != nil || utf8.RuneCountInString(a.sent[0].Get("Body")) != sms.MaxTwilioBody {
		t.Errorf("Send = %v, body of %d characters", err, utf8.RuneCountInString(a.sent[0].Get("Body")))
	}
}

func TestTwilioAnswers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mod     func(*sms.TwilioConfig)
		force   func(w http.ResponseWriter, req *http.Request) bool
		timeout bool
		retry   bool
		code    string
		wait    time.Duration
	}{
		{name: "bad token", mod: func(c *sms.TwilioConfig) { c.AuthToken = "wrong" }, code: "20003"},
		{name: "invalid To", force: func(w http.ResponseWriter, req *http.Request) bool {
			twilioError(w, 400, 21211, "The 'To' number +15005550001 is not a valid phone number.")
			return true
		}, code: "21211"},
		{name: "too many requests", retry: true, code: "20429", wait: 2 * time.Second,
			force: func(w http.ResponseWriter, req *http.Request) bool {
				w.Header().Set("Retry-After", "2")
				twilioError(w, 429, 20429, "Too Many Requests")
				return true
			}},
		{name: "HTTP 500", retry: true, force: func(w http.ResponseWriter, req *http.Request) bool { http.Error(w, "oops", 500); return true }},
		{name: "timeout", retry: true, timeout: true,
			force: func(w http.ResponseWriter, req *http.Request) bool {
				io.Copy(io.Discard, req.Body)
				<-req.Context().Done()
				return true
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTwilio(t)
			a.force = tc.force
			c := newTwilioChannel(t, a, tc.mod, template.Options{})
			ps, _ := c.Render(template.Example(1, template.EN))
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
			if !errors.As(err, &ve) || ve.Code != tc.code || ve.Vendor != "twilio" || strings.Contains(err.Error(), authToken) {
				t.Errorf("error %v: want a VendorError with code %q", err, tc.code)
			}
			var wait interface{ RetryAfter() time.Duration }
			if tc.wait > 0 && (!errors.As(err, &wait) || wait.RetryAfter() != tc.wait) {
				t.Errorf("error %v: want it to ask for %s", err, tc.wait)
			}
		})
	}
}

func TestNewTwilioRejectsBadConfig(t *testing.T) {
	ok := sms.TwilioConfig{AccountSID: accountSID, AuthToken: "t", From: "+15017122661", To: []string{"+15558675310"}}
	for _, tc := range []struct {
		mod  func(*sms.TwilioConfig)
		want string
	}{
		{func(c *sms.TwilioConfig) { c.AccountSID = "x" }, `account_sid "x"`},
		{func(c *sms.TwilioConfig) { c.AuthToken = "" }, "auth token: required"},
		{func(c *sms.TwilioConfig) { c.MessagingServiceSID = "MG1" }, "from: set from or messaging_service_sid, one of them"},
		{func(c *sms.TwilioConfig) { c.To = []string{"5558675310"} }, `to[0] "5558675310": want an E.164 number`},
		{func(c *sms.TwilioConfig) { c.APIKeySID = "AC1" }, `api_key_sid "AC1"`},
	} {
		cfg := ok
		tc.mod(&cfg)
		if _, err := sms.NewTwilio(cfg, sms.Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewTwilio = %v, want it to mention %q", err, tc.want)
		}
	}
}
