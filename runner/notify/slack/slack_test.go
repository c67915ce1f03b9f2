package slack_test

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
	"unicode/utf8"

	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/internal/channeltest"
	"github.com/vigil-risk/vigil/runner/notify/slack"
	"github.com/vigil-risk/vigil/runner/notify/template"
)

// hook is a local Slack incoming webhook: it checks each message as Block
// Kit documents it and answers as Slack does — "ok", or a plain-text error.
type hook struct {
	*httptest.Server
	t    *testing.T
	path string

	mu    sync.Mutex
	msgs  []map[string]any
	force func(w http.ResponseWriter, req *http.Request) bool
}

func newHook(t *testing.T) *hook {
	h := &hook{t: t, path: "/services/T0001/B0002/s3cretXYZ"}
	h.Server = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) url() string { return h.URL + h.path }

func plain(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (h *hook) serve(w http.ResponseWriter, req *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.force != nil && h.force(w, req) {
		return
	}
	if req.URL.Path != h.path {
		plain(w, 404, "no_service")
		return
	}
	if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
		plain(w, 400, "invalid_payload")
		return
	}
	var m map[string]any
	if err := json.NewDecoder(req.Body).Decode(&m); err != nil {
		plain(w, 400, "invalid_payload")
		return
	}
	if s, _ := m["text"].(string); s == "" {
		plain(w, 400, "no_text")
		return
	}
	blocks, _ := m["blocks"].([]any)
	if len(blocks) > slack.MaxBlocks {
		h.t.Errorf("%d blocks", len(blocks))
		plain(w, 400, "invalid_blocks")
		return
	}
	for i, b := range blocks {
		bl := b.(map[string]any)
		tx, _ := bl["text"].(map[string]any)
		s, _ := tx["text"].(string)
		ok := true
		switch bl["type"] {
		case "header":
			ok = tx["type"] == "plain_text" && s != "" && utf8.RuneCountInString(s) <= slack.MaxHeaderText
		case "section":
			ok = tx["type"] == "mrkdwn" && s != "" && utf8.RuneCountInString(s) <= slack.MaxSection
		case "context":
			els, _ := bl["elements"].([]any)
			ok = len(els) > 0
		default:
			ok = false
		}
		if !ok {
			h.t.Errorf("block %d is invalid: %v", i, bl)
			plain(w, 400, "invalid_blocks")
			return
		}
	}
	h.msgs = append(h.msgs, m)
	plain(w, 200, "ok")
}

func (h *hook) received() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.msgs...)
}

func newChannel(t *testing.T, url string, topts template.Options) *slack.Channel {
	t.Helper()
	topts.LinkBase = "https://vigil.example.com"
	set, err := template.New("slack", topts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := slack.New(slack.Config{URL: url}, slack.Options{Templates: set})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// blockTexts joins the texts of a message's blocks.
func blockTexts(m map[string]any) string {
	var b strings.Builder
	for _, bl := range m["blocks"].([]any) {
		blk := bl.(map[string]any)
		if tx, ok := blk["text"].(map[string]any); ok {
			b.WriteString(tx["text"].(string) + "\n")
		}
		if els, ok := blk["elements"].([]any); ok {
			for _, e := range els {
				b.WriteString(e.(map[string]any)["text"].(string) + "\n")
			}
		}
	}
	return b.String()
}

func TestBlocks(t *testing.T) {
	h := newHook(t)
	c := newChannel(t, h.url(), template.Options{})
	m := template.Example(3, template.EN)
	m.Alerts[0].Reason = "amount > 5 & <script>" // mrkdwn's reserved characters
	channeltest.SendAll(t, c, m)
	msg := h.received()[0]
	if msg["text"] != "[FIRING:2] 3 alerts from 3 rules" {
		t.Errorf("text = %q", msg["text"])
	}
	all := blockTexts(msg)
	for _, want := range []string{"*2* firing, *1* resolved · env=prod", "*Reason:* amount &gt; 5 &amp; &lt;script&gt;", "*Severity:* Critical",
		"<https://wiki.example.com/risk/card_testing|Runbook> · <https://vigil.example.com/alerts/1000|View alert #1000>",
		"<https://vigil.example.com/alerts|Open the console>"} {
		if !strings.Contains(all, want) {
			t.Errorf("blocks lack %q:\n%s", want, all)
		}
	}
}

func TestChinese(t *testing.T) {
	h := newHook(t)
	channeltest.SendAll(t, newChannel(t, h.url(), template.Options{Locale: template.ZH}), template.Example(1, template.ZH))
	if all := blockTexts(h.received()[0]); !strings.Contains(all, "【告警:1】银行卡测试攻击") || !strings.Contains(all, "*原因：* 1 分钟内 6 笔小额授权") {
		t.Errorf("blocks:\n%s", all)
	}
}

func TestTemplateOverride(t *testing.T) {
	file := filepath.Join(t.TempDir(), "slack.tmpl")
	os.WriteFile(file, []byte(`{{define "alert"}}:rotating_light: {{.Rule}} on {{.Entity}}{{end}}{{define "footer"}}risk team{{end}}`), 0o600)
	h := newHook(t)
	channeltest.SendAll(t, newChannel(t, h.url(), template.Options{File: file}), template.Example(1, template.EN))
	msg := h.received()[0]
	blocks := msg["blocks"].([]any)
	if len(blocks) != 3 || blockTexts(msg) != "[FIRING:1] Card testing burst · card_id=e-100000\n:rotating_light: card_testing on card_id=e-100000\nrisk team\n" {
		t.Errorf("blocks = %v", blocks)
	}
}

func TestSplitsAGroupOf300(t *testing.T) {
	h := newHook(t)
	c := newChannel(t, h.url(), template.Options{})
	// A template that lists every alert in full, so that 50 blocks fill up.
	ps := channeltest.SendAll(t, c, template.Example(300, template.EN))
	file := filepath.Join(t.TempDir(), "long.tmpl")
	os.WriteFile(file, []byte(`{{define "alert"}}{{.Title}} {{.Entity}} #{{.ID}} {{printf "%2900s" "."}}{{end}}`), 0o600)
	long := newChannel(t, h.url(), template.Options{File: file})
	longPs := channeltest.SendAll(t, long, template.Example(300, template.EN))
	if len(longPs) < 6 {
		t.Fatalf("300 alerts of ~3,000 characters in %d messages", len(longPs))
	}
	msgs := h.received()
	seen := map[string]int{}
	for i, msg := range msgs[len(ps):] {
		if want := fmt.Sprintf("(%d/%d)", i+1, len(longPs)); !strings.HasSuffix(msg["text"].(string), want) {
			t.Errorf("message %d: text %q not numbered %s", i+1, msg["text"], want)
		}
		for _, f := range strings.Fields(blockTexts(msg)) {
			if id, ok := strings.CutPrefix(f, "#"); ok {
				seen[id]++
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
		name    string
		path    string
		force   func(w http.ResponseWriter, req *http.Request) bool
		timeout bool
		retry   bool
		code    string
		wait    time.Duration
	}{
		{name: "revoked webhook", path: "/services/T0001/B0002/revoked", code: "no_service"},
		{name: "invalid token", code: "invalid_token", force: func(w http.ResponseWriter, req *http.Request) bool { plain(w, 403, "invalid_token"); return true }},
		{name: "archived", code: "channel_is_archived", force: func(w http.ResponseWriter, req *http.Request) bool { plain(w, 410, "channel_is_archived"); return true }},
		{name: "rate limited", retry: true, code: "rate_limited", wait: 30 * time.Second,
			force: func(w http.ResponseWriter, req *http.Request) bool {
				w.Header().Set("Retry-After", "30")
				plain(w, 429, "rate_limited")
				return true
			}},
		{name: "server error", retry: true, force: func(w http.ResponseWriter, req *http.Request) bool {
			plain(w, 500, "internal server error")
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
			h := newHook(t)
			h.force = tc.force
			u := h.url()
			if tc.path != "" {
				u = h.URL + tc.path
			}
			c := newChannel(t, u, template.Options{})
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
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "revoked") {
				t.Errorf("error %q shows the webhook's secret path", err)
			}
			var ve *notify.VendorError
			if !errors.As(err, &ve) || ve.Code != tc.code || ve.Vendor != "slack" {
				t.Errorf("error %#v: want a VendorError with code %q", err, tc.code)
			}
			var wait interface{ RetryAfter() time.Duration }
			if tc.wait > 0 && (!errors.As(err, &wait) || wait.RetryAfter() != tc.wait) {
				t.Errorf("error %v: want it to ask for %s", err, tc.wait)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, u := range []string{"", "hooks.slack.com/services/x", "https://hooks.slack.com/"} {
		if _, err := slack.New(slack.Config{URL: u}, slack.Options{}); err == nil || !strings.HasPrefix(err.Error(), "url") {
			t.Errorf("New(%q) = %v", u, err)
		}
	}
}
