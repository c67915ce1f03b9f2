package feishu_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	"github.com/vigil-risk/vigil/runner/notify/feishu"
	"github.com/vigil-risk/vigil/runner/notify/internal/channeltest"
	"github.com/vigil-risk/vigil/runner/notify/template"
)

// Test vectors of the reference sheet (§1.3), computed by two independent
// implementations of the official samples.
func TestSignVectors(t *testing.T) {
	for _, tc := range []struct {
		ts     int64
		secret string
		want   string
	}{
		{1700000000, "testsecret", "AOc8oJ7//5OlQlfWC3nRL0R+IkuzcD1FKcAyibRK9Q8="},
		{1599360473, "demo", "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8="},
	} {
		if got := feishu.Sign(tc.secret, tc.ts); got != tc.want {
			t.Errorf("Sign(%q, %d) = %s, want %s", tc.secret, tc.ts, got, tc.want)
		}
	}
}

// bot is a local Feishu custom bot: it checks each request as the
// 自定义机器人使用指南 documents it and answers as the bot does.
type bot struct {
	*httptest.Server
	t       *testing.T
	token   string
	secret  string
	keyword string
	now     time.Time

	mu    sync.Mutex
	cards []map[string]any
	force func(w http.ResponseWriter, req *http.Request) bool
}

func newBot(t *testing.T, secret, keyword string) *bot {
	b := &bot{t: t, token: "0a1b2c3d-hook-token", secret: secret, keyword: keyword, now: time.Unix(1772366400, 0)}
	b.Server = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.Close)
	return b
}

func (b *bot) url() string { return b.URL + "/open-apis/bot/v2/hook/" + b.token }

func answer(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if code == 0 {
		io.WriteString(w, `{"code":0,"msg":"success","data":{},"Extra":null,"StatusCode":0,"StatusMessage":"success"}`)
		return
	}
	fmt.Fprintf(w, `{"code":%d,"msg":%q,"data":{}}`, code, msg)
}

func (b *bot) serve(w http.ResponseWriter, req *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.force != nil && b.force(w, req) {
		return
	}
	if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
		b.t.Errorf("request %s, Content-Type %q", req.Method, req.Header.Get("Content-Type"))
	}
	if req.URL.Path != "/open-apis/bot/v2/hook/"+b.token {
		answer(w, 404, 19001, "param invalid: incoming webhook access token invalid")
		return
	}
	raw, _ := io.ReadAll(req.Body)
	if len(raw) > feishu.MaxBytes {
		b.t.Errorf("body of %d bytes is over Feishu's 20 KB", len(raw))
		answer(w, 400, 9499, "Bad Request")
		return
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		answer(w, 400, 9499, "Bad Request")
		return
	}
	if b.secret != "" {
		// The sign fields are top-level siblings of msg_type; the timestamp
		// is seconds, as a string, within an hour.
		tsText, _ := m["timestamp"].(string)
		ts, err := strconv.ParseInt(tsText, 10, 64)
		sign, _ := m["sign"].(string)
		if err != nil || b.now.Sub(time.Unix(ts, 0)).Abs() > time.Hour || sign != feishu.Sign(b.secret, ts) {
			answer(w, 200, 19021, "sign match fail or timestamp is not within one hour from current time")
			return
		}
	}
	cardObj, _ := m["card"].(map[string]any)
	hdr, _ := cardObj["header"].(map[string]any)
	title, _ := hdr["title"].(map[string]any)
	els, _ := cardObj["elements"].([]any)
	if m["msg_type"] != "interactive" || title["tag"] != "plain_text" || title["content"] == "" || len(els) == 0 {
		answer(w, 400, 9499, "Bad Request")
		return
	}
	if b.keyword != "" && !strings.Contains(string(raw), b.keyword) {
		answer(w, 200, 19024, "Key Words Not Found")
		return
	}
	b.cards = append(b.cards, cardObj)
	answer(w, 200, 0, "")
}

func (b *bot) received() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]map[string]any(nil), b.cards...)
}

func newChannel(t *testing.T, cfg feishu.Config, now time.Time, topts template.Options) *feishu.Channel {
	t.Helper()
	topts.LinkBase = "https://vigil.example.com"
	set, err := template.New("feishu", topts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := feishu.New(cfg, feishu.Options{Templates: set, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// texts are the lark_md contents of a card's div and note elements.
func texts(card map[string]any) string {
	var b strings.Builder
	for _, e := range card["elements"].([]any) {
		el := e.(map[string]any)
		if t, ok := el["text"].(map[string]any); ok {
			b.WriteString(t["content"].(string) + "\n")
		}
		if notes, ok := el["elements"].([]any); ok {
			for _, n := range notes {
				b.WriteString(n.(map[string]any)["content"].(string) + "\n")
			}
		}
	}
	return b.String()
}

func TestSignedCard(t *testing.T) {
	b := newBot(t, "s3cret", "风控")
	c := newChannel(t, feishu.Config{URL: b.url(), Secret: "s3cret", Keyword: "风控", AtAll: true}, b.now, template.Options{Locale: template.ZH})
	channeltest.SendAll(t, c, template.Example(1, template.ZH))
	cards := b.received()
	if len(cards) != 1 {
		t.Fatalf("bot received %d cards", len(cards))
	}
	card := cards[0]
	hdr := card["header"].(map[string]any)
	if hdr["template"] != "orange" || hdr["title"].(map[string]any)["content"] != "【告警:1】银行卡测试攻击 · card_id=e-100000" {
		t.Errorf("header = %v", hdr)
	}
	all := texts(card)
	for _, want := range []string{"**🔴 银行卡测试攻击**", "**原因：** 1 分钟内 6 笔小额授权", "**处置手册：** [https://wiki.example.com/risk/card_testing]", "<at id=all></at>", "风控"} {
		if !strings.Contains(all, want) {
			t.Errorf("card lacks %q:\n%s", want, all)
		}
	}
	var action map[string]any
	for _, e := range card["elements"].([]any) {
		if e.(map[string]any)["tag"] == "action" {
			action = e.(map[string]any)["actions"].([]any)[0].(map[string]any)
		}
	}
	if action["url"] != "https://vigil.example.com/alerts/1000" || action["text"].(map[string]any)["content"] != "打开控制台" {
		t.Errorf("button = %v", action)
	}
}

func TestResolvedIsGreenAndEnglish(t *testing.T) {
	b := newBot(t, "", "")
	c := newChannel(t, feishu.Config{URL: b.url()}, b.now, template.Options{})
	m := template.Example(2, template.EN)
	m.Alerts = m.Alerts[1:] // the resolved one
	m.Status = notify.Resolved
	channeltest.SendAll(t, c, m)
	card := b.received()[0]
	hdr := card["header"].(map[string]any)
	if hdr["template"] != "green" || !strings.HasPrefix(hdr["title"].(map[string]any)["content"].(string), "[RESOLVED] High amount from a new device") {
		t.Errorf("header = %v", hdr)
	}
	if !strings.Contains(texts(card), "(resolved)") {
		t.Errorf("card = %s", texts(card))
	}
}

func TestTemplateOverride(t *testing.T) {
	file := filepath.Join(t.TempDir(), "feishu.tmpl")
	os.WriteFile(file, []byte(`{{define "title"}}Risk: {{.Total}}{{end}}{{define "alert"}}{{.Entity.Value}} → {{.Reason}}{{end}}`), 0o600)
	b := newBot(t, "", "")
	channeltest.SendAll(t, newChannel(t, feishu.Config{URL: b.url()}, b.now, template.Options{File: file}), template.Example(1, template.EN))
	card := b.received()[0]
	if card["header"].(map[string]any)["title"].(map[string]any)["content"] != "Risk: 1" || !strings.Contains(texts(card), "e-100000 → 6 small authorisations in 1m") {
		t.Errorf("override not applied: %v", card)
	}
}

func TestSplitsAGroupOf300(t *testing.T) {
	b := newBot(t, "s3cret", "")
	c := newChannel(t, feishu.Config{URL: b.url(), Secret: "s3cret"}, b.now, template.Options{})
	ps := channeltest.SendAll(t, c, template.Example(300, template.EN))
	if len(ps) < 2 {
		t.Fatalf("%d parts", len(ps))
	}
	seen := map[string]int{}
	for i, card := range b.received() {
		title := card["header"].(map[string]any)["title"].(map[string]any)["content"].(string)
		if !strings.HasSuffix(title, fmt.Sprintf("(%d/%d)", i+1, len(ps))) {
			t.Errorf("part %d title %q not numbered", i+1, title)
		}
		for _, f := range strings.Fields(texts(card)) {
			if _, id, ok := strings.Cut(f, "[#"); ok {
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

func TestVendorAnswers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		secret   string // the channel's; the bot's is "s3cret"
		token    string
		keyword  string
		force    func(w http.ResponseWriter, req *http.Request) bool
		timeout  bool
		retry    bool
		code     string
		contains string
	}{
		{name: "bad signature", secret: "wrong", code: "19021", contains: "sign match fail"},
		{name: "unsigned", code: "19021", contains: "sign match fail"},
		{name: "keyword", secret: "s3cret", keyword: "关键词", code: "19024", contains: "Key Words Not Found"},
		{name: "ip", secret: "s3cret", code: "19022", contains: "Ip Not Allowed",
			force: func(w http.ResponseWriter, req *http.Request) bool {
				answer(w, 200, 19022, "Ip Not Allowed")
				return true
			}},
		{name: "frequency on 200", secret: "s3cret", retry: true, code: "11232", contains: "frequency limited",
			force: func(w http.ResponseWriter, req *http.Request) bool {
				answer(w, 200, 11232, "frequency limited psm")
				return true
			}},
		{name: "frequency on 400", secret: "s3cret", retry: true, code: "11232", contains: "frequency limited",
			force: func(w http.ResponseWriter, req *http.Request) bool {
				answer(w, 400, 11232, "frequency limited psm")
				return true
			}},
		{name: "bad request", secret: "s3cret", code: "9499", contains: "Bad Request",
			force: func(w http.ResponseWriter, req *http.Request) bool { answer(w, 400, 9499, "Bad Request"); return true }},
		{name: "HTTP 502", secret: "s3cret", retry: true, contains: "HTTP 502",
			force: func(w http.ResponseWriter, req *http.Request) bool { http.Error(w, "bad gateway", 502); return true }},
		{name: "HTTP 429", secret: "s3cret", retry: true, contains: "HTTP 429",
			force: func(w http.ResponseWriter, req *http.Request) bool { http.Error(w, "too many", 429); return true }},
		{name: "timeout", secret: "s3cret", retry: true, timeout: true,
			force: func(w http.ResponseWriter, req *http.Request) bool {
				io.Copy(io.Discard, req.Body)
				<-req.Context().Done()
				return true
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBot(t, "s3cret", tc.keyword)
			b.force = tc.force
			c := newChannel(t, feishu.Config{URL: b.url(), Secret: tc.secret}, b.now, template.Options{})
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
			if !strings.Contains(err.Error(), tc.contains) || strings.Contains(err.Error(), b.token) {
				t.Errorf("error %q: want it to mention %q and not the token", err, tc.contains)
			}
			if tc.code != "" && (!errors.As(err, &ve) || ve.Code != tc.code || ve.Vendor != "feishu") {
				t.Errorf("error %#v: want a VendorError with code %s", err, tc.code)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  feishu.Config
		want string
	}{
		{feishu.Config{}, "url: required"},
		{feishu.Config{URL: "https://open.feishu.cn/open-apis/bot/v2/hook/"}, "want …/open-apis/bot/v2/hook/<token>"},
		{feishu.Config{URL: "https://open.feishu.cn/open-apis/bot/v2/hook/t0k", AtUserIDs: []string{"a b"}}, `at_user_ids[0] "a b"`},
	} {
		if _, err := feishu.New(tc.cfg, feishu.Options{}); err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "t0k") {
			t.Errorf("New(%+v) = %v, want it to mention %q without the token", tc.cfg, err, tc.want)
		}
	}
}
