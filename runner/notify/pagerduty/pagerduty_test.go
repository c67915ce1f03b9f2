package pagerduty_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/internal/channeltest"
	"github.com/vigil-risk/vigil/runner/notify/pagerduty"
	"github.com/vigil-risk/vigil/runner/notify/template"
)

const key = "R0UT1NGKEY0123456789abcdefABCDEF" // 32 characters

// events is a local Events API v2: it validates events as PagerDuty
// documents them, keeps one incident per dedup_key, and answers as
// PagerDuty does.
type events struct {
	*httptest.Server
	t *testing.T

	mu        sync.Mutex
	events    []map[string]any
	incidents map[string]string // dedup_key → "triggered" or "resolved"
	triggers  int               // incidents opened
	force     func(w http.ResponseWriter, req *http.Request) bool
}

func newEvents(t *testing.T) *events {
	e := &events{t: t, incidents: map[string]string{}}
	e.Server = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.Close)
	return e
}

func invalid(w http.ResponseWriter, errs ...string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(400)
	b, _ := json.Marshal(map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": errs})
	w.Write(b)
}

func (e *events) serve(w http.ResponseWriter, req *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.force != nil && e.force(w, req) {
		return
	}
	if req.Method != http.MethodPost || req.URL.Path != "/v2/enqueue" || req.Header.Get("Content-Type") != "application/json" {
		e.t.Errorf("request %s %s %q", req.Method, req.URL.Path, req.Header.Get("Content-Type"))
	}
	raw, _ := io.ReadAll(req.Body)
	if len(raw) > pagerduty.MaxBytes {
		invalid(w, "payload too large")
		return
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		invalid(w, "Body must be a JSON object")
		return
	}
	if ev["routing_key"] != key {
		invalid(w, "'routing_key' is invalid")
		return
	}
	dedup, _ := ev["dedup_key"].(string)
	if dedup == "" || len(dedup) > pagerduty.MaxDedup {
		invalid(w, "'dedup_key' is invalid")
		return
	}
	switch ev["event_action"] {
	case "trigger":
		p, _ := ev["payload"].(map[string]any)
		summary, _ := p["summary"].(string)
		switch {
		case summary == "" || utf8.RuneCountInString(summary) > pagerduty.MaxSummary:
			invalid(w, "'payload.summary' is invalid")
			return
		case p["source"] == nil || p["source"] == "":
			invalid(w, "'payload.source' is missing or blank")
			return
		case !strings.Contains(" critical error warning info ", " "+p["severity"].(string)+" "):
			invalid(w, "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')")
			return
		}
		if _, err := time.Parse(time.RFC3339, p["timestamp"].(string)); err != nil {
			invalid(w, "'payload.timestamp' is invalid")
			return
		}
		if e.incidents[dedup] != "triggered" {
			e.triggers++
		}
		e.incidents[dedup] = "triggered"
	case "resolve":
		if e.incidents[dedup] == "triggered" { // resolving an unknown key is dropped
			e.incidents[dedup] = "resolved"
		}
	default:
		invalid(w, "'event_action' is invalid")
		return
	}
	e.events = append(e.events, ev)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(202)
	b, _ := json.Marshal(map[string]any{"status": "success", "message": "Event processed", "dedup_key": dedup})
	w.Write(b)
}

func newChannel(t *testing.T, url string, routingKey string, topts template.Options) *pagerduty.Channel {
	t.Helper()
	topts.LinkBase = "https://vigil.example.com"
	set, err := template.New("pagerduty", topts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pagerduty.New(pagerduty.Config{RoutingKey: routingKey, URL: url + "/v2/enqueue", Source: "vigil-prod-1"}, pagerduty.Options{Templates: set})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTriggerAndResolveByFingerprint(t *testing.T) {
	e := newEvents(t)
	c := newChannel(t, e.URL, key, template.Options{})
	m := template.Example(3, template.EN) // two firing, the last resolved
	m.Alerts[2].Fingerprint = m.Alerts[0].Fingerprint + "-other"
	ps := channeltest.SendAll(t, c, m)
	if len(ps) != 3 || ps[1].Part != 2 || ps[1].Parts != 3 || ps[1].IdempotencyKey != "example-key-2" {
		t.Fatalf("payloads = %+v", ps)
	}
	for _, p := range ps {
		if strings.Contains(string(p.Body), key) {
			t.Fatal("the routing key is stored with the payload")
		}
	}
	ev := e.events[0]
	p := ev["payload"].(map[string]any)
	if ev["event_action"] != "trigger" || ev["dedup_key"] != m.Alerts[0].Fingerprint || p["severity"] != "error" || p["source"] != "vigil-prod-1" ||
		p["summary"] != "[High] Card testing burst · card_id=e-100000: 6 small authorisations in 1m" || p["component"] != "card_testing" ||
		p["group"] != "payments-risk" || p["class"] != "block" || p["timestamp"] != "2026-03-01T08:00:00.000Z" {
		t.Errorf("trigger = %v", ev)
	}
	cd := p["custom_details"].(map[string]any)
	if cd["entity"] != "card_id=e-100000" || cd["count"] != 1.0 || cd["console"] != "https://vigil.example.com/alerts/1000" || cd["runbook"] != "https://wiki.example.com/risk/card_testing" {
		t.Errorf("custom_details = %v", cd)
	}
	links := ev["links"].([]any)
	if len(links) != 2 || links[0].(map[string]any)["href"] != "https://vigil.example.com/alerts/1000" {
		t.Errorf("links = %v", links)
	}
	if e.events[1]["payload"].(map[string]any)["severity"] != "critical" {
		t.Errorf("critical maps to %v", e.events[1]["payload"])
	}
	if last := e.events[2]; last["event_action"] != "resolve" || last["payload"] != nil || last["dedup_key"] != m.Alerts[2].Fingerprint {
		t.Errorf("resolve = %v", last)
	}

	// Repeating the message (repeat_interval, a retry after a crash) keeps
	// one incident per alert.
	channeltest.SendAll(t, c, m)
	if e.triggers != 2 || len(e.incidents) != 2 {
		t.Errorf("%d incidents opened for 2 firing alerts: %v", e.triggers, e.incidents)
	}
	// Resolving the first closes its incident.
	m.Alerts[0].Status = "resolved"
	channeltest.SendAll(t, c, m)
	if e.incidents[m.Alerts[0].Fingerprint] != "resolved" {
		t.Errorf("incidents = %v", e.incidents)
	}
}

func TestChineseSummaryAndOverride(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pd.tmpl")
	os.WriteFile(file, []byte(`{{define "summary"}}{{.Rule}}: {{.Entity.Value}} {{printf "%2000s" "x"}}{{end}}`), 0o600)
	for _, tc := range []struct {
		topts template.Options
		want  string
	}{
		{template.Options{Locale: template.ZH}, "[高] 银行卡测试攻击 · card_id=e-100000：1 分钟内 6 笔小额授权"},
		{template.Options{File: file}, "card_testing: e-100000 "},
	} {
		e := newEvents(t)
		channeltest.SendAll(t, newChannel(t, e.URL, key, tc.topts), template.Example(1, template.ZH))
		s := e.events[0]["payload"].(map[string]any)["summary"].(string)
		if !strings.HasPrefix(s, tc.want) || utf8.RuneCountInString(s) > pagerduty.MaxSummary {
			t.Errorf("summary %q (%d characters), want it to start with %q", s[:min(len(s), 80)], utf8.RuneCountInString(s), tc.want)
		}
	}
}

func TestAGroupOf300IsOneEventPerAlert(t *testing.T) {
	e := newEvents(t)
	ps := channeltest.SendAll(t, newChannel(t, e.URL, key, template.Options{}), template.Example(300, template.EN))
	if len(ps) != 300 || e.triggers != 299 {
		t.Errorf("%d payloads, %d incidents", len(ps), e.triggers)
	}
}

func TestVendorAnswers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		key      string
		force    func(w http.ResponseWriter, req *http.Request) bool
		timeout  bool
		retry    bool
		contains string
	}{
		{name: "invalid routing key", key: strings.Repeat("x", 32), contains: "Event object is invalid: 'routing_key' is invalid"},
		{name: "rate limited", retry: true, contains: "HTTP 429",
			force: func(w http.ResponseWriter, req *http.Request) bool {
				http.Error(w, "Too Many Requests", 429)
				return true
			}},
		{name: "server error", retry: true, contains: "HTTP 500",
			force: func(w http.ResponseWriter, req *http.Request) bool { http.Error(w, "oops", 500); return true }},
		{name: "timeout", retry: true, timeout: true,
			force: func(w http.ResponseWriter, req *http.Request) bool {
				io.Copy(io.Discard, req.Body)
				<-req.Context().Done()
				return true
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEvents(t)
			e.force = tc.force
			k := key
			if tc.key != "" {
				k = tc.key
			}
			c := newChannel(t, e.URL, k, template.Options{})
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
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.contains) || strings.Contains(err.Error(), k) {
				t.Errorf("error %v: want a VendorError mentioning %q, without the key", err, tc.contains)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  pagerduty.Config
		want string
	}{
		{pagerduty.Config{}, "routing key: required"},
		{pagerduty.Config{RoutingKey: "short"}, "want the 32-character integration key, have 5"},
		{pagerduty.Config{RoutingKey: key, URL: "events.pagerduty.com"}, "url"},
	} {
		if _, err := pagerduty.New(tc.cfg, pagerduty.Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want it to mention %q", tc.cfg, err, tc.want)
		}
	}
}
