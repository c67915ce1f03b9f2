package dingtalk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/dingtalk"
	"github.com/vigil-risk/vigil/runner/notify/internal/channeltest"
	"github.com/vigil-risk/vigil/runner/notify/template"
)

// Test vectors of the reference sheet (§1.1), computed by two independent
// implementations: DingTalk publishes none for robots.
func TestSignVectors(t *testing.T) {
	for _, tc := range []struct {
		ts     int64
		secret string
		want   string
	}{
		{1700000000000, "SECtestsecret", "7LVwF0dAF3/+MRRulbpE4y72Ogzykc6bS2nG4I99T4s="},
		{1546084445901, "testappSecret", "fYP0TV8RJULxGabs59wSO94FZbNekbH7ebQJu2oy+/0="},
	} {
		if got := dingtalk.Sign(tc.secret, tc.ts); got != tc.want {
			t.Errorf("Sign(%q, %d) = %s, want %s", tc.secret, tc.ts, got, tc.want)
		}
	}
}

// robot is a local DingTalk robot: it checks each request as the robot
// documents it and answers as the robot does, errors included.
type robot struct {
	*httptest.Server
	t       *testing.T
	token   string
	secret  string // empty: the robot does not sign
	keyword string
	now     time.Time

	mu     sync.Mutex
	bodies []map[string]any
	sent   []time.Time // accepted, for the 20-a-minute limit
	force  func(w http.ResponseWriter, req *http.Request) bool
}

func newRobot(t *testing.T, secret, keyword string) *robot {
	r := &robot{t: t, token: "tok-123", secret: secret, keyword: keyword, now: time.UnixMilli(1772366400000)}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *robot) url() string { return r.URL + "/robot/send?access_token=" + r.token }

func answer(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	fmt.Fprintf(w, `{"errcode":%d,"errmsg":%q}`, code, msg)
}

func (r *robot) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.force != nil && r.force(w, req) {
		return
	}
	if req.Method != http.MethodPost || req.URL.Path != "/robot/send" {
		http.NotFound(w, req)
		return
	}
	if ct, params, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); ct != "application/json" || (params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8")) {
		r.t.Errorf("Content-Type %q, want application/json", req.Header.Get("Content-Type"))
	}
	q := req.URL.Query()
	if q.Get("access_token") != r.token {
		answer(w, 300005, "token is not exist")
		return
	}
	if r.secret != "" {
		ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
		if err != nil || r.now.Sub(time.UnixMilli(ts)).Abs() > time.Hour {
			answer(w, 310000, "invalid timestamp")
			return
		}
		// Recompute from the secret, as DingTalk does: HmacSHA256 over
		// timestamp+"\n"+secret keyed by the secret, base64, URL-encoded.
		if q.Get("sign") != dingtalk.Sign(r.secret, ts) || !strings.Contains(req.URL.RawQuery, "sign="+urlEscape(dingtalk.Sign(r.secret, ts))) {
			answer(w, 310000, "sign not match")
			return
		}
	}
	body, _ := io.ReadAll(req.Body)
	if len(body) > dingtalk.MaxBytes {
		r.t.Errorf("body of %d bytes is over DingTalk's %d", len(body), dingtalk.MaxBytes)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		answer(w, 40035, "缺少参数 json")
		return
	}
	text := ""
	switch m["msgtype"] {
	case "markdown":
		md, _ := m["markdown"].(map[string]any)
		title, _ := md["title"].(string)
		text, _ = md["text"].(string)
		if title == "" || text == "" {
			answer(w, 40035, "缺少参数 markdown.title/text")
			return
		}
	case "actionCard":
		ac, _ := m["actionCard"].(map[string]any)
		text, _ = ac["text"].(string)
		if ac["title"] == "" || text == "" || ac["singleTitle"] == "" || !strings.HasPrefix(fmt.Sprint(ac["singleURL"]), "http") {
			answer(w, 40035, "缺少参数 actionCard")
			return
		}
	default:
		answer(w, 40035, "不支持的消息类型")
		return
	}
	if r.keyword != "" && !strings.Contains(text, r.keyword) {
		answer(w, 310000, "keywords not in content")
		return
	}
	// 20 a minute per robot.
	recent := 0
	for _, at := range r.sent {
		if r.now.Sub(at) < time.Minute {
			recent++
		}
	}
	if recent >= 20 {
		answer(w, 130101, "send too fast, exceed 20 times per minute")
		return
	}
	r.sent = append(r.sent, r.now)
	r.bodies = append(r.bodies, m)
	answer(w, 0, "ok")
}

func urlEscape(s string) string {
	return strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(s)
}

func (r *robot) received() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.bodies...)
}

func newChannel(t *testing.T, cfg dingtalk.Config, now time.Time, topts template.Options) *dingtalk.Channel {
	t.Helper()
	topts.LinkBase = "https://vigil.example.com/"
	set, err := template.New("dingtalk", topts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dingtalk.New(cfg, dingtalk.Options{Templates: set, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSendSignedMarkdownWithMentionsAndKeyword(t *testing.T) {
	r := newRobot(t, "SECs3cret", "风控")
	c := newChannel(t, dingtalk.Config{URL: r.url(), Secret: "SECs3cret", AtMobiles: []string{"13800001111"}, AtUserIDs: []string{"u42"}, Keyword: "风控"},
		r.now, template.Options{})
	ps := channeltest.SendAll(t, c, template.Example(1, template.EN))
	if len(ps) != 1 || ps[0].ContentType != "application/json" || ps[0].Parts != 1 || ps[0].IdempotencyKey != "example-key" {
		t.Fatalf("payloads = %+v", ps)
	}
	got := r.received()
	if len(got) != 1 {
		t.Fatalf("robot received %d messages", len(got))
	}
	md := got[0]["markdown"].(map[string]any)
	text := md["text"].(string)
	for _, want := range []string{"[FIRING:1] Card testing burst · card_id=e-100000", "6 small authorisations in 1m", "**Severity:** High",
		"https://wiki.example.com/risk/card_testing", "(https://vigil.example.com/alerts/1000)", "@13800001111 @u42", "风控"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if md["title"] != "[FIRING:1] Card testing burst · card_id=e-100000" {
		t.Errorf("title = %q", md["title"])
	}
	atm := got[0]["at"].(map[string]any)
	if fmt.Sprint(atm["atMobiles"]) != "[13800001111]" || fmt.Sprint(atm["atUserIds"]) != "[u42]" || atm["isAtAll"] != false {
		t.Errorf("at = %v", atm)
	}
}

func TestActionCardLinksTheAlert(t *testing.T) {
	r := newRobot(t, "", "")
	c := newChannel(t, dingtalk.Config{URL: r.url(), MsgType: dingtalk.ActionCard}, r.now, template.Options{Locale: template.ZH})
	channeltest.SendAll(t, c, template.Example(1, template.ZH))
	ac := r.received()[0]["actionCard"].(map[string]any)
	if ac["singleURL"] != "https://vigil.example.com/alerts/1000" || ac["singleTitle"] != "查看告警 #1000" ||
		!strings.Contains(ac["title"].(string), "【告警:1】银行卡测试攻击") {
		t.Errorf("actionCard = %v", ac)
	}
}

func TestLocales(t *testing.T) {
	for _, tc := range []struct {
		locale string
		want   []string
	}{
		{template.EN, []string{"[FIRING:2] 3 alerts from 3 rules", "**2** firing, **1** resolved", "**Severity:** Critical", "(resolved)", "Open the console"}},
		{template.ZH, []string{"【告警:2】3 条规则共 3 条告警", "告警中 **2** 条，已恢复 **1** 条", "**级别：** 严重", "（已恢复）", "打开控制台", "人工审核"}},
	} {
		r := newRobot(t, "", "")
		c := newChannel(t, dingtalk.Config{URL: r.url()}, r.now, template.Options{})
		channeltest.SendAll(t, c, template.Example(3, tc.locale)) // the message's locale wins over the receiver's
		text := r.received()[0]["markdown"].(map[string]any)["text"].(string)
		for _, w := range tc.want {
			if !strings.Contains(text, w) {
				t.Errorf("%s: text lacks %q:\n%s", tc.locale, w, text)
			}
		}
	}
}

func TestTemplateOverride(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ding.tmpl")
	os.WriteFile(file, []byte(`{{define "title"}}RISK {{.Total}}{{end}}{{define "vigil.alert.md"}}* {{.Title}} / {{.Entity.Value}} / {{severity .Severity}}{{end}}`), 0o600)
	r := newRobot(t, "", "")
	c := newChannel(t, dingtalk.Config{URL: r.url()}, r.now, template.Options{File: file, Locale: template.ZH})
	m := template.Example(1, "")
	channeltest.SendAll(t, c, m)
	md := r.received()[0]["markdown"].(map[string]any)
	if md["title"] != "RISK 1" || !strings.Contains(md["text"].(string), "* Card testing burst / e-100000 / 高") {
		t.Errorf("override not applied: %v", md)
	}
}

func TestSplitsAGroupOf300(t *testing.T) {
	r := newRobot(t, "SECs3cret", "")
	c := newChannel(t, dingtalk.Config{URL: r.url(), Secret: "SECs3cret", AtMobiles: []string{"13800001111"}}, r.now, template.Options{})
	m := template.Example(300, template.ZH)
	ps := channeltest.SendAll(t, c, m)
	if len(ps) < 2 || len(ps) > 20 {
		t.Fatalf("%d parts for 300 alerts", len(ps))
	}
	seen := map[string]int{}
	for i, p := range ps {
		if len(p.Body) > dingtalk.MaxBytes || p.Part != i+1 || p.Parts != len(ps) || p.IdempotencyKey != "example-key-"+strconv.Itoa(i+1) {
			t.Errorf("part %d: %d bytes, %d/%d, key %s", i+1, len(p.Body), p.Part, p.Parts, p.IdempotencyKey)
		}
		md := r.received()[i]["markdown"].(map[string]any)
		numbering := fmt.Sprintf("(%d/%d)", i+1, len(ps))
		if !strings.HasSuffix(md["title"].(string), numbering) || !strings.Contains(md["text"].(string), numbering) {
			t.Errorf("part %d not numbered %s: %q", i+1, numbering, md["title"])
		}
		if !strings.Contains(md["text"].(string), "@13800001111") {
			t.Errorf("part %d lacks the mention", i+1)
		}
		for _, line := range strings.Split(md["text"].(string), "\n") {
			if _, id, ok := strings.Cut(line, "[#"); ok {
				seen[id[:4]]++
			}
		}
	}
	for i := range 300 {
		if id := strconv.Itoa(1000 + i); seen[id] != 1 {
			t.Errorf("alert %s appears %d times", id, seen[id])
		}
	}
}

func TestOversizedAlert(t *testing.T) {
	// The defaults list a message that does not fit one line per alert,
	// reasons cut short; a template that prints the whole reason gets its
	// text shortened to fit.
	file := filepath.Join(t.TempDir(), "full.tmpl")
	os.WriteFile(file, []byte(`{{define "vigil.alert.line.md"}}{{.Reason}}{{end}}`), 0o600)
	for _, topts := range []template.Options{{}, {File: file}} {
		r := newRobot(t, "", "")
		c := newChannel(t, dingtalk.Config{URL: r.url(), Keyword: "风控"}, r.now, topts)
		m := template.Example(1, template.EN)
		m.Alerts[0].Reason = strings.Repeat("very long reason ", 3000)
		ps := channeltest.SendAll(t, c, m)
		if len(ps) != 1 || len(ps[0].Body) > dingtalk.MaxBytes {
			t.Fatalf("%d payloads, first of %d bytes", len(ps), len(ps[0].Body))
		}
		text := r.received()[0]["markdown"].(map[string]any)["text"].(string)
		want := "very long reason very long r…"
		if topts.File != "" {
			want = "…\n\n风控"
		}
		if !strings.Contains(text, want) || !strings.HasSuffix(text, "风控") {
			t.Errorf("options %+v: text should contain %q and end with the keyword: …%q", topts, want, text[len(text)-80:])
		}
	}
}

func TestVendorAnswers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		secret   string // the channel's; the robot's is "SECs3cret"
		token    string
		keyword  string
		force    func(w http.ResponseWriter, req *http.Request) bool
		timeout  time.Duration
		retry    bool
		code     string
		contains string
	}{
		{name: "sign not match", secret: "SECwrong", code: "310000", contains: "sign not match"},
		{name: "keyword missing", secret: "SECs3cret", keyword: "风控", code: "310000", contains: "keywords not in content"},
		{name: "unknown token", secret: "SECs3cret", token: "tok-revoked", code: "300005", contains: "token is not exist"},
		{name: "send too fast", secret: "SECs3cret", retry: true, code: "130101", contains: "send too fast",
			force: func(w http.ResponseWriter, req *http.Request) bool {
				answer(w, 130101, "send too fast, exceed 20 times per minute")
				return true
			}},
		{name: "busy", secret: "SECs3cret", retry: true, code: "-1", contains: "系统繁忙",
			force: func(w http.ResponseWriter, req *http.Request) bool { answer(w, -1, "系统繁忙"); return true }},
		{name: "HTTP 500", secret: "SECs3cret", retry: true, contains: "HTTP 500",
			force: func(w http.ResponseWriter, req *http.Request) bool { http.Error(w, "upstream broke", 500); return true }},
		{name: "HTTP 429", secret: "SECs3cret", retry: true, contains: "HTTP 429",
			force: func(w http.ResponseWriter, req *http.Request) bool { http.Error(w, "slow down", 429); return true }},
		{name: "HTTP 404", secret: "SECs3cret", contains: "HTTP 404",
			force: func(w http.ResponseWriter, req *http.Request) bool { http.NotFound(w, req); return true }},
		{name: "not the robot's answer", secret: "SECs3cret", retry: true, contains: "not the robot's",
			force: func(w http.ResponseWriter, req *http.Request) bool {
				io.WriteString(w, "<html>proxy</html>")
				return true
			}},
		{name: "timeout", secret: "SECs3cret", retry: true, timeout: 50 * time.Millisecond,
			force: func(w http.ResponseWriter, req *http.Request) bool {
				io.Copy(io.Discard, req.Body)
				<-req.Context().Done()
				return true
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRobot(t, "SECs3cret", tc.keyword)
			r.force = tc.force
			u := r.url()
			if tc.token != "" {
				u = r.URL + "/robot/send?access_token=" + tc.token
			}
			c := newChannel(t, dingtalk.Config{URL: u, Secret: tc.secret}, r.now, template.Options{})
			ps, err := c.Render(template.Example(1, template.EN))
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			retry, err := c.Send(ctx, ps[0])
			if err == nil || retry != tc.retry {
				t.Fatalf("Send = %v, %v; want retry %v and an error", retry, err, tc.retry)
			}
			if tc.timeout > 0 {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("timeout error = %v", err)
				}
				return
			}
			if !strings.Contains(err.Error(), tc.contains) || strings.Contains(err.Error(), r.token) {
				t.Errorf("error %q: want it to mention %q and not the token", err, tc.contains)
			}
			var ve *notify.VendorError
			if tc.code != "" && (!errors.As(err, &ve) || ve.Code != tc.code || ve.Vendor != "dingtalk") {
				t.Errorf("error %#v: want a VendorError with code %s", err, tc.code)
			}
		})
	}
}

func TestRateLimitAnswerAfter20AMinute(t *testing.T) {
	r := newRobot(t, "", "")
	c := newChannel(t, dingtalk.Config{URL: r.url()}, r.now, template.Options{})
	ps, _ := c.Render(template.Example(1, template.EN))
	for i := range 20 {
		if _, err := c.Send(t.Context(), ps[0]); err != nil {
			t.Fatalf("send %d: %v", i+1, err)
		}
	}
	retry, err := c.Send(t.Context(), ps[0])
	var ve *notify.VendorError
	if !retry || !errors.As(err, &ve) || ve.Code != "130101" {
		t.Errorf("21st send in a minute = %v, %v; want a retryable 130101", retry, err)
	}
	var wait interface{ RetryAfter() time.Duration }
	if !errors.As(err, &wait) || wait.RetryAfter() != 10*time.Minute {
		t.Errorf("130101 should ask for the ten minutes the robot is muted: %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  dingtalk.Config
		want string
	}{
		{dingtalk.Config{}, "url: required"},
		{dingtalk.Config{URL: "oapi.dingtalk.com/robot/send?access_token=x"}, "want the robot's https webhook URL"},
		{dingtalk.Config{URL: "https://oapi.dingtalk.com/robot/send"}, "has no access_token"},
		{dingtalk.Config{URL: "https://oapi.dingtalk.com/robot/send?access_token=x", MsgType: "feedCard"}, `msgtype "feedCard"`},
		{dingtalk.Config{URL: "https://oapi.dingtalk.com/robot/send?access_token=x", AtMobiles: []string{"138 0000"}}, "at_mobiles[0]"},
	} {
		_, err := dingtalk.New(tc.cfg, dingtalk.Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "access_token=x") {
			t.Errorf("New(%+v) = %v, want it to mention %q without the token", tc.cfg, err, tc.want)
		}
	}
}
