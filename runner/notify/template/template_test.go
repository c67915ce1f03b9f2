package template_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/template"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newSet(t *testing.T, channel string, opts template.Options) *template.Set {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return now }
	}
	s, err := template.New(channel, opts)
	if err != nil {
		t.Fatalf("New(%s): %v", channel, err)
	}
	return s
}

func TestEveryChannelRendersInBothLocales(t *testing.T) {
	perAlert := map[string][]string{"feishu": {"alert"}, "slack": {"alert"}, "pagerduty": {"summary"}, "alertmanager": {"summary", "description"}}
	for _, channel := range []string{"dingtalk", "wecom", "feishu", "slack", "email", "sms", "pagerduty", "alertmanager"} {
		s := newSet(t, channel, template.Options{LinkBase: "https://vigil.example.com"})
		for _, locale := range []string{template.EN, template.ZH} {
			d := s.Data(template.Example(3, locale))
			for _, name := range template.Names(channel) {
				var out string
				var err error
				if slices.Contains(perAlert[channel], name) {
					out, err = s.Alert(name, d, d.Alerts[0])
				} else {
					out, err = s.Execute(name, d)
				}
				if err != nil || out == "" {
					t.Errorf("%s %s %s = %q, %v", channel, locale, name, out, err)
				}
				if strings.Contains(out, "<no value>") || strings.Contains(out, "\n\n\n") {
					t.Errorf("%s %s %s has holes or blank runs:\n%s", channel, locale, name, out)
				}
				hasHan := strings.ContainsFunc(out, func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff })
				if locale == template.EN && hasHan || locale == template.ZH && !hasHan && name != "count" && name != "footer" && channel != "slack" {
					t.Errorf("%s %s %s is in the wrong language: %q", channel, locale, name, out)
				}
			}
		}
	}
	if _, err := template.New("carrier-pigeon", template.Options{}); err == nil {
		t.Error("New accepted an unknown channel")
	}
	if _, err := template.New("dingtalk", template.Options{Locale: "fr"}); err == nil || !strings.Contains(err.Error(), `locale "fr"`) {
		t.Errorf("locale fr: %v", err)
	}
}

func TestDataCarriesWhatMessagesShow(t *testing.T) {
	s := newSet(t, "dingtalk", template.Options{LinkBase: "https://ignored.example.com"})
	m := template.Example(7, template.EN)
	m.LinkBase = "https://vigil.example.com/console/" // the message's wins, without its slash
	m.Digest = 3
	d := s.Data(m)
	if d.Total != 7 || d.Firing != 6 || d.Resolved != 1 || d.Digest != 3 || d.ConsoleLink() != "https://vigil.example.com/console/alerts" ||
		d.Alerts[0].Link != "https://vigil.example.com/console/alerts/1000" || !d.Now.Equal(now) || d.HighestSeverity() != decision.Critical {
		t.Fatalf("data = %+v", d)
	}
	// Rules: firing before resolved, then severity, then volume.
	var got []string
	for _, r := range d.Rules {
		got = append(got, fmt.Sprintf("%s:%d/%d", r.Rule, r.Firing, r.Resolved))
	}
	if want := "new_device_high_amount:2/0 card_testing:2/1 velocity_ip:2/0"; strings.Join(got, " ") != want {
		t.Errorf("rules = %v, want %s", got, want)
	}
	text, _ := s.Execute("text", d)
	for _, want := range []string{"Digest of 3 notifications held back by the rate limit.", "**6** firing, **1** resolved · env=prod",
		"- 🟥 **High amount from a new device** (Critical): 2 firing", "- 🔴 **Card testing burst** (High): 2 firing, 1 resolved"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	m.Locale = "" // falls back to the set's locale
	if d := newSet(t, "dingtalk", template.Options{Locale: template.ZH}).Data(m); d.Locale != template.ZH || d.ConsoleLink() == "" {
		t.Errorf("locale %q", d.Locale)
	}
	// A group label the message lacks is empty, not an error: operators
	// write templates for the labels their routes group by.
	file := filepath.Join(t.TempDir(), "team.tmpl")
	os.WriteFile(file, []byte(`{{define "title"}}[{{.GroupLabels.team}}] {{.Total}}{{end}}`), 0o600)
	teams := newSet(t, "dingtalk", template.Options{File: file})
	if title, err := teams.Execute("title", teams.Data(m)); err != nil || title != "[] 7" {
		t.Errorf("title = %q, %v", title, err)
	}
	m.GroupLabels = map[string]string{"team": "payments"}
	if title, _ := teams.Execute("title", teams.Data(m)); title != "[payments] 7" {
		t.Errorf("title = %q", title)
	}
}

func TestTimesInTheReceiversZone(t *testing.T) {
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	s := newSet(t, "alertmanager", template.Options{Location: shanghai})
	d := s.Data(template.Example(1, template.ZH))
	out, _ := s.Alert("description", d, d.Alerts[0])
	if !strings.Contains(out, "首次 2026-03-01 16:00:00 CST，最近 2026-03-01 16:03:00 CST") {
		t.Errorf("description = %q", out)
	}
}

func TestOverride(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ops.tmpl")
	os.WriteFile(file, []byte(`{{define "vigil.alert.md"}}* {{.Title}} ({{action .Action}}){{end}}`), 0o600)
	s := newSet(t, "dingtalk", template.Options{File: file})
	for _, locale := range []string{template.EN, template.ZH} {
		d := s.Data(template.Example(1, locale))
		title, _ := s.Execute("title", d)
		text, _ := s.Execute("text", d)
		if !strings.Contains(text, "* "+d.Alerts[0].Title+" (") || strings.Contains(text, "Severity") || strings.Contains(text, "级别") {
			t.Errorf("%s: the alert block was not replaced:\n%s", locale, text)
		}
		if !strings.Contains(title, d.Alerts[0].Title) || !strings.Contains(text, "Vigil · 2026-03-01 12:00:00 UTC") {
			t.Errorf("%s: the other templates should stay: %q\n%s", locale, title, text)
		}
	}

	for _, tc := range []struct {
		body, want string
	}{
		{"{{define \"title\"}}\n{{if}}{{end}}", `template ` + filepath.Join(dir, "bad.tmpl") + `: template: ` + filepath.Join(dir, "bad.tmpl") + `:2: missing value for if`},
		{`{{define "text"}}{{.Alerts.Nope}}{{end}}`, `can't evaluate field Nope`},
		{`{{define "text"}}{{template "missing" .}}{{end}}`, `template "missing" not defined`},
	} {
		bad := filepath.Join(dir, "bad.tmpl")
		os.WriteFile(bad, []byte(tc.body), 0o600)
		if _, err := template.New("dingtalk", template.Options{File: bad}); err == nil || !strings.Contains(err.Error(), tc.want) ||
			!strings.HasPrefix(err.Error(), "template "+bad) || strings.Contains(err.Error(), "\n") {
			t.Errorf("New with %q: %v, want one line naming the file and %q", tc.body, err, tc.want)
		}
	}
	if _, err := template.New("dingtalk", template.Options{File: filepath.Join(dir, "absent.tmpl")}); err == nil || !strings.Contains(err.Error(), "absent.tmpl") {
		t.Errorf("missing file: %v", err)
	}
}

func TestHTMLIsEscaped(t *testing.T) {
	s := newSet(t, "email", template.Options{})
	m := template.Example(1, template.EN)
	m.Alerts[0].Reason = `<img src=x onerror="alert(1)">`
	m.Alerts[0].Runbook = "javascript:alert(1)"
	d := s.Data(m)
	html, _ := s.Execute("html", d)
	text, _ := s.Execute("text", d)
	if strings.Contains(html, "<img") || !strings.Contains(html, "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;") || strings.Contains(html, `href="javascript:`) {
		t.Errorf("html not escaped:\n%s", html)
	}
	if !strings.Contains(text, `<img src=x onerror="alert(1)">`) {
		t.Errorf("the text part should keep the reason as it is:\n%s", text)
	}
}

// build is a vendor body for tests: a JSON-like envelope around the part's
// text, with the alerts' ids so that the test can count them.
func build(s *template.Set, maxAlerts int) template.Build {
	return func(d *template.Data, cut int) ([]byte, error) {
		if maxAlerts > 0 && len(d.Alerts) > maxAlerts {
			return nil, fmt.Errorf("%d alerts: %w", len(d.Alerts), template.ErrTooLarge)
		}
		text, err := s.Execute("text", d)
		if err != nil {
			return nil, err
		}
		if cut > 0 {
			text = template.TruncateBytes(len(text)-cut, text)
		}
		ids := make([]string, len(d.Alerts))
		for i, a := range d.Alerts {
			ids[i] = strconv.FormatInt(a.ID, 10)
		}
		return fmt.Appendf(nil, `{"part":"%d/%d","ids":"%s","text":%q}`, d.Part, d.Parts, strings.Join(ids, ","), text), nil
	}
}

func TestRenderSplits(t *testing.T) {
	s := newSet(t, "dingtalk", template.Options{LinkBase: "https://vigil.example.com"})
	for _, tc := range []struct {
		name      string
		n         int
		maxBytes  int
		maxAlerts int
		minParts  int
		maxParts  int
	}{
		{"fits whole", 3, 20000, 0, 1, 1},
		{"no limit", 300, 0, 0, 1, 1},
		{"bytes", 300, 20000, 0, 2, 10},
		{"small budget", 300, 4096, 0, 10, 80},
		{"structural limit", 300, 0, 47, 7, 7},
		{"both", 1000, 8192, 30, 34, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := template.Example(tc.n, template.ZH)
			ps, err := s.Render(m, tc.maxBytes, "application/json", build(s, tc.maxAlerts))
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) < tc.minParts || len(ps) > tc.maxParts {
				t.Fatalf("%d parts, want %d-%d", len(ps), tc.minParts, tc.maxParts)
			}
			next := int64(1000)
			for i, p := range ps {
				if tc.maxBytes > 0 && len(p.Body) > tc.maxBytes {
					t.Errorf("part %d: %d bytes over %d", i+1, len(p.Body), tc.maxBytes)
				}
				if p.Part != i+1 || p.Parts != len(ps) || p.ContentType != "application/json" || p.Summary == "" {
					t.Errorf("part %d: %+v", i+1, p)
				}
				wantKey := "example-key"
				if len(ps) > 1 {
					wantKey += "-" + strconv.Itoa(i+1)
					if !strings.Contains(string(p.Body), fmt.Sprintf(`"part":"%d/%d"`, i+1, len(ps))) || !strings.Contains(string(p.Body), fmt.Sprintf("(%d/%d)", i+1, len(ps))) {
						t.Errorf("part %d is not numbered in its text", i+1)
					}
				}
				if p.IdempotencyKey != wantKey {
					t.Errorf("part %d key %s", i+1, p.IdempotencyKey)
				}
				// Alerts come in order, each in exactly one part.
				_, rest, _ := strings.Cut(string(p.Body), `"ids":"`)
				ids, _, _ := strings.Cut(rest, `"`)
				for _, id := range strings.Split(ids, ",") {
					if id != strconv.FormatInt(next, 10) {
						t.Fatalf("part %d: alert %s where %d was due", i+1, id, next)
					}
					next++
				}
			}
			if next != int64(1000+tc.n) {
				t.Errorf("%d of %d alerts delivered", next-1000, tc.n)
			}
			// Packing is tight: no two neighbouring parts would fit in one.
			if tc.maxAlerts > 0 && tc.maxBytes == 0 && len(ps) != (tc.n+tc.maxAlerts-1)/tc.maxAlerts {
				t.Errorf("%d parts for %d alerts of at most %d", len(ps), tc.n, tc.maxAlerts)
			}
		})
	}
}

func TestRenderShortensOneOversizedAlert(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "full.tmpl")
	os.WriteFile(file, []byte(`{{define "vigil.alert.line.md"}}{{.Reason}}{{end}}`), 0o600)
	s := newSet(t, "dingtalk", template.Options{File: file})
	m := template.Example(3, template.EN)
	m.Alerts[1].Reason = strings.Repeat("长", 5000) // 15,000 bytes of text, 30,000 quoted by %q
	ps, err := s.Render(m, 4096, "application/json", build(s, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 {
		t.Fatalf("%d parts", len(ps))
	}
	for _, p := range ps {
		if len(p.Body) > 4096 {
			t.Errorf("part %d: %d bytes", p.Part, len(p.Body))
		}
	}
	// A body that cannot shrink enough is an error, not a loop.
	_, err = s.Render(m, 4096, "application/json", func(d *template.Data, cut int) ([]byte, error) {
		return make([]byte, 5000), nil
	})
	if err == nil || !strings.Contains(err.Error(), "does not fit in 4096 bytes") {
		t.Errorf("unshrinkable alert: %v", err)
	}
	_, err = s.Render(&notify.Message{}, 4096, "application/json", build(s, 0))
	if err == nil {
		t.Error("an empty message rendered")
	}
	boom := errors.New("boom")
	if _, err := s.Render(m, 0, "", func(*template.Data, int) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("a build error is lost: %v", err)
	}
}

func TestTextHelpers(t *testing.T) {
	for _, tc := range []struct {
		n       int
		in, out string
	}{
		{5, "hello", "hello"}, {4, "hello", "hel…"}, {3, "银行卡测试", "银行…"}, {0, "abc", ""}, {1, "abc", "…"},
	} {
		if got := template.Truncate(tc.n, tc.in); got != tc.out {
			t.Errorf("Truncate(%d, %q) = %q, want %q", tc.n, tc.in, got, tc.out)
		}
	}
	for _, tc := range []struct {
		n       int
		in, out string
	}{
		{10, "hello", "hello"}, {7, "银行卡", "银…"}, {8, "银行卡", "银…"}, {9, "银行卡", "银行卡"}, {2, "abc", ""}, {3, "abcd", "…"},
	} {
		got := template.TruncateBytes(tc.n, tc.in)
		if got != tc.out || len(got) > tc.n || !utf8.ValidString(got) {
			t.Errorf("TruncateBytes(%d, %q) = %q, want %q", tc.n, tc.in, got, tc.out)
		}
	}
	if got := template.EscapeSlack("a < b && c > d"); got != "a &lt; b &amp;&amp; c &gt; d" {
		t.Errorf("EscapeSlack = %q", got)
	}
	if got := template.PartKey("k", 2, 3); got != "k-2" || template.PartKey("k", 1, 1) != "k" {
		t.Errorf("PartKey = %q", got)
	}
}

func BenchmarkRenderSplit300(b *testing.B) {
	s, err := template.New("dingtalk", template.Options{LinkBase: "https://vigil.example.com"})
	if err != nil {
		b.Fatal(err)
	}
	m := template.Example(300, template.ZH)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Render(m, 20000, "application/json", build(s, 0)); err != nil {
			b.Fatal(err)
		}
	}
}

// For: a channel takes the operator's set made for it, its defaults when
// there is none, and refuses a set made for another channel.
func TestFor(t *testing.T) {
	slack, err := template.New("slack", template.Options{Locale: template.ZH})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := template.For("slack", slack); err != nil || got != slack {
		t.Errorf("own set: %p, %v; want %p", got, err, slack)
	}
	if got, err := template.For("dingtalk", nil); err != nil || got.Channel() != "dingtalk" {
		t.Errorf("defaults: %v, %v", got, err)
	}
	if _, err := template.For("dingtalk", slack); err == nil || err.Error() != "templates: made for slack, not dingtalk" {
		t.Errorf("another channel's set: %v", err)
	}
	if _, err := template.For("fax", nil); err == nil {
		t.Error("a channel without defaults: no error")
	}
}
