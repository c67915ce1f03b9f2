package wecom_test

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
	"github.com/vigil-risk/vigil/runner/notify/internal/channeltest"
	"github.com/vigil-risk/vigil/runner/notify/template"
	"github.com/vigil-risk/vigil/runner/notify/wecom"
)

// robot is a local WeCom group robot: it checks each request as the
// 群机器人配置说明 documents it and answers as the robot does.
type robot struct {
	*httptest.Server
	t   *testing.T
	key string

	mu       sync.Mutex
	contents []map[string]any // the accepted msgtype objects
	types    []string
	sends    int // every send counts toward 20 a minute, failed ones too
	force    func(w http.ResponseWriter, req *http.Request) bool
}

func newRobot(t *testing.T) *robot {
	r := &robot{t: t, key: "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *robot) url() string { return r.URL + "/cgi-bin/webhook/send?key=" + r.key }

func answer(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	fmt.Fprintf(w, `{"errcode":%d,"errmsg":%q}`, code, msg)
}

func (r *robot) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.force != nil && r.force(w, req) {
		return
	}
	if req.Method != http.MethodPost || req.URL.Path != "/cgi-bin/webhook/send" || req.Header.Get("Content-Type") != "application/json" {
		r.t.Errorf("request %s %s, Content-Type %q", req.Method, req.URL.Path, req.Header.Get("Content-Type"))
	}
	if req.URL.Query().Get("key") != r.key {
		answer(w, 93000, "invalid webhook url, hint: [1700000000_abc], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=93000")
		return
	}
	r.sends++
	if r.sends > 20 {
		answer(w, 45009, "api freq out of limit, hint: [1700000000_def]")
		return
	}
	var m map[string]any
	body, _ := io.ReadAll(req.Body)
	if err := json.Unmarshal(body, &m); err != nil {
		answer(w, 40035, "invalid parameter")
		return
	}
	msgType, _ := m["msgtype"].(string)
	limit := map[string]int{"markdown": wecom.MaxMarkdownBytes, "text": wecom.MaxTextBytes}[msgType]
	if limit == 0 {
		answer(w, 40008, "invalid message type")
		return
	}
	obj, _ := m[msgType].(map[string]any)
	content, _ := obj["content"].(string)
	switch {
	case content == "":
		answer(w, 44004, "empty content")
		return
	case len(content) > limit:
		r.t.Errorf("%s content of %d bytes is over WeCom's %d", msgType, len(content), limit)
		answer(w, 45002, "content size out of limit")
		return
	}
	r.types = append(r.types, msgType)
	r.contents = append(r.contents, obj)
	answer(w, 0, "ok")
}

func (r *robot) received() ([]string, []map[string]any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.types...), append([]map[string]any(nil), r.contents...)
}

func newChannel(t *testing.T, cfg wecom.Config, topts template.Options) *wecom.Channel {
	t.Helper()
	topts.LinkBase = "https://vigil.example.com"
	set, err := template.New("wecom", topts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := wecom.New(cfg, wecom.Options{Templates: set})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMarkdownWithMentions(t *testing.T) {
	r := newRobot(t)
	c := newChannel(t, wecom.Config{URL: r.url(), MentionedList: []string{"wangqing"}}, template.Options{Locale: template.ZH})
	channeltest.SendAll(t, c, template.Example(1, "")) // no locale: the receiver's (the example's data stays English)
	types, got := r.received()
	if len(got) != 1 || types[0] != "markdown" {
		t.Fatalf("received %v", types)
	}
	content := got[0]["content"].(string)
	for _, want := range []string{"### 【告警:1】Card testing burst · card_id=e-100000", `<font color="warning">高</font>`, "> 原因：6 small authorisations in 1m",
		"[查看告警 #1000](https://vigil.example.com/alerts/1000)", "[处置手册](https://wiki.example.com/risk/card_testing)", "<@wangqing>"} {
		if !strings.Contains(content, want) {
			t.Errorf("content lacks %q:\n%s", want, content)
		}
	}
}

func TestTextWithMentionLists(t *testing.T) {
	r := newRobot(t)
	c := newChannel(t, wecom.Config{URL: r.url(), MsgType: wecom.Text, MentionedList: []string{"@all"}, MentionedMobileList: []string{"13800001111"}}, template.Options{})
	if c.Limits() != (notify.Limits{PerMinute: 20, MaxBytes: 2048}) {
		t.Errorf("limits = %+v", c.Limits())
	}
	channeltest.SendAll(t, c, template.Example(3, template.EN))
	types, got := r.received()
	if types[0] != "text" || fmt.Sprint(got[0]["mentioned_list"]) != "[@all]" || fmt.Sprint(got[0]["mentioned_mobile_list"]) != "[13800001111]" {
		t.Errorf("text message = %v", got[0])
	}
	if content := got[0]["content"].(string); !strings.HasPrefix(content, "[FIRING:2] 3 alerts from 3 rules\n2 firing, 1 resolved") {
		t.Errorf("content = %q", content)
	}
}

func TestTemplateOverride(t *testing.T) {
	file := filepath.Join(t.TempDir(), "wecom.tmpl")
	os.WriteFile(file, []byte(`{{define "markdown"}}# {{.Total}} 条风险告警{{range .Alerts}}
- {{.Title}}{{end}}{{end}}`), 0o600)
	r := newRobot(t)
	channeltest.SendAll(t, newChannel(t, wecom.Config{URL: r.url()}, template.Options{File: file}), template.Example(2, template.ZH))
	if _, got := r.received(); got[0]["content"] != "# 2 条风险告警\n- 银行卡测试攻击\n- 新设备大额交易" {
		t.Errorf("content = %q", got[0]["content"])
	}
}

func TestSplitsAGroupOf300(t *testing.T) {
	for _, msgType := range []string{wecom.Markdown, wecom.Text} {
		r := newRobot(t)
		c := newChannel(t, wecom.Config{URL: r.url(), MsgType: msgType}, template.Options{})
		ps, err := c.Render(template.Example(300, template.ZH))
		if err != nil {
			t.Fatal(err)
		}
		limit := c.Limits().MaxBytes
		seen := map[string]int{}
		for i, p := range ps {
			if len(p.Body) > limit || p.Part != i+1 || p.Parts != len(ps) {
				t.Errorf("%s part %d: %d bytes, %d/%d", msgType, i+1, len(p.Body), p.Part, p.Parts)
			}
			var b map[string]map[string]any
			json.Unmarshal(p.Body, &b)
			content := b[msgType]["content"].(string)
			if first, _, _ := strings.Cut(content, "\n"); !strings.HasSuffix(first, fmt.Sprintf("(%d/%d)", i+1, len(ps))) {
				t.Errorf("%s part %d: first line %q not numbered", msgType, i+1, first)
			}
			for _, f := range strings.Fields(content) {
				if id, ok := strings.CutPrefix(f, "https://vigil.example.com/alerts/"); ok {
					seen[id]++
				} else if _, id, ok := strings.Cut(f, "[#"); ok {
					seen[id[:4]]++
				}
			}
		}
		for i := range 300 {
			if id := strconv.Itoa(1000 + i); seen[id] != 1 {
				t.Errorf("%s: alert %s appears %d times in %d parts", msgType, id, seen[id], len(ps))
				break
			}
		}
		if len(ps) < 5 {
			t.Errorf("%s: 300 alerts in %d parts of %d bytes?", msgType, len(ps), limit)
		}
		// Twenty go through; the robot refuses the rest of the minute.
		for i, p := range ps[:min(len(ps), 21)] {
			retry, err := c.Send(t.Context(), p)
			var ve *notify.VendorError
			switch {
			case i < 20 && err != nil:
				t.Fatalf("%s part %d: %v", msgType, i+1, err)
			case i == 20 && (!retry || !errors.As(err, &ve) || ve.Code != "45009"):
				t.Errorf("%s part 21 in a minute: %v, %v; want a retryable 45009", msgType, retry, err)
			}
		}
	}
}

func TestVendorAnswers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		key      string
		force    func(w http.ResponseWriter, req *http.Request) bool
		timeout  bool
		retry    bool
		code     string
		contains string
	}{
		{name: "invalid key", key: "removed", code: "93000", contains: "invalid webhook url"},
		{name: "busy", retry: true, code: "-1", contains: "system busy",
			force: func(w http.ResponseWriter, req *http.Request) bool { answer(w, -1, "system busy"); return true }},
		{name: "frequency", retry: true, code: "45009", contains: "api freq out of limit",
			force: func(w http.ResponseWriter, req *http.Request) bool {
				answer(w, 45009, "api freq out of limit")
				return true
			}},
		{name: "content too large", code: "45002", contains: "content size out of limit",
			force: func(w http.ResponseWriter, req *http.Request) bool {
				answer(w, 45002, "content size out of limit")
				return true
			}},
		{name: "HTTP 503", retry: true, contains: "HTTP 503",
			force: func(w http.ResponseWriter, req *http.Request) bool { http.Error(w, "maintenance", 503); return true }},
		{name: "HTTP 429 with Retry-After", retry: true, contains: "HTTP 429",
			force: func(w http.ResponseWriter, req *http.Request) bool {
				w.Header().Set("Retry-After", "7")
				http.Error(w, "slow down", 429)
				return true
			}},
		{name: "timeout", retry: true, timeout: true,
			force: func(w http.ResponseWriter, req *http.Request) bool {
				io.Copy(io.Discard, req.Body)
				<-req.Context().Done()
				return true
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRobot(t)
			r.force = tc.force
			u := r.url()
			if tc.key != "" {
				u = r.URL + "/cgi-bin/webhook/send?key=" + tc.key
			}
			c := newChannel(t, wecom.Config{URL: u}, template.Options{})
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
			if !strings.Contains(err.Error(), tc.contains) || strings.Contains(err.Error(), r.key) {
				t.Errorf("error %q: want it to mention %q and not the key", err, tc.contains)
			}
			var ve *notify.VendorError
			if tc.code != "" && (!errors.As(err, &ve) || ve.Code != tc.code) {
				t.Errorf("error %#v: want a VendorError with code %s", err, tc.code)
			}
			var wait interface{ RetryAfter() time.Duration }
			if tc.name == "HTTP 429 with Retry-After" && (!errors.As(err, &wait) || wait.RetryAfter() != 7*time.Second) {
				t.Errorf("Retry-After lost: %v", err)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	const u = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=s3cret"
	for _, tc := range []struct {
		cfg  wecom.Config
		want string
	}{
		{wecom.Config{}, "url: required"},
		{wecom.Config{URL: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"}, "has no key"},
		{wecom.Config{URL: u, MsgType: "news"}, `msgtype "news"`},
		{wecom.Config{URL: u, MentionedMobileList: []string{"13800001111"}}, "mentioned_mobile_list: markdown messages cannot @ by mobile"},
		{wecom.Config{URL: u, MentionedList: []string{"@all"}}, "mentioned_list[0]: markdown messages cannot @all"},
		{wecom.Config{URL: u, MsgType: wecom.Text, MentionedList: []string{"a b"}}, `mentioned_list[0] "a b"`},
	} {
		_, err := wecom.New(tc.cfg, wecom.Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("New(%+v) = %v, want it to mention %q without the key", tc.cfg, err, tc.want)
		}
	}
}
