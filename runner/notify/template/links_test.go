package template_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/notify/template"
	"github.com/vigil-risk/vigil/runner/server/auth"
)

var actLink = regexp.MustCompile(`https://vigil\.example\.com/act\?t=([A-Za-z0-9_-]+)`)

// The chat channels carry Acknowledge and Resolve links, signed for the
// receiver, when a signer and a link base are set; and none otherwise.
func TestActLinksInMessages(t *testing.T) {
	signer, err := auth.New(t.Context(), auth.Options{Key: []byte("0123456789abcdef0123456789abcdef"), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		channel, name string
		perAlert      bool
		words         map[string][]string // locale → the links' words
	}{
		{"dingtalk", "text", false, map[string][]string{"en": {"[Acknowledge](", "[Resolve]("}, "zh": {"[确认](", "[解决]("}}},
		{"wecom", "markdown", false, map[string][]string{"en": {"[Acknowledge](", "[Resolve]("}, "zh": {"[确认](", "[解决]("}}},
		{"feishu", "alert", true, map[string][]string{"en": {"[Acknowledge](", "[Resolve]("}, "zh": {"[确认](", "[解决]("}}},
		{"slack", "alert", true, map[string][]string{"en": {"|Acknowledge>", "|Resolve>"}, "zh": {"|确认>", "|解决>"}}},
		{"email", "text", false, map[string][]string{"en": {"Acknowledge: ", "Resolve: "}, "zh": {"确认：", "解决："}}},
		{"email", "html", false, map[string][]string{"en": {">Acknowledge</a>", ">Resolve</a>"}, "zh": {">确认</a>", ">解决</a>"}}},
	}
	for _, tt := range tests {
		for _, locale := range []string{template.EN, template.ZH} {
			render := func(opts template.Options) string {
				t.Helper()
				opts.LinkBase = "https://vigil.example.com"
				s := newSet(t, tt.channel, opts)
				m := template.Example(1, locale)
				m.Receiver = "ops-" + tt.channel
				d := s.Data(m)
				var out string
				if tt.perAlert {
					out, err = s.Alert(tt.name, d, d.Alerts[0])
				} else {
					out, err = s.Execute(tt.name, d)
				}
				if err != nil {
					t.Fatalf("%s/%s %s: %v", tt.channel, tt.name, locale, err)
				}
				return out
			}
			out := render(template.Options{Links: signer})
			for _, w := range tt.words[locale] {
				if !strings.Contains(out, w) {
					t.Errorf("%s/%s %s lacks %q:\n%s", tt.channel, tt.name, locale, w, out)
				}
			}
			links := actLink.FindAllStringSubmatch(out, -1)
			if len(links) != 2 {
				t.Fatalf("%s/%s %s: %d act links, want 2:\n%s", tt.channel, tt.name, locale, len(links), out)
			}
			for i, want := range []string{auth.LinkAck, auth.LinkResolve} {
				l, err := signer.ParseLink(links[i][1])
				if err != nil || l.Action != want || l.Actor != "ops-"+tt.channel || l.AlertID != 1000 {
					t.Errorf("%s/%s %s link %d: %+v %v", tt.channel, tt.name, locale, i, l, err)
				}
			}
			if out := render(template.Options{}); strings.Contains(out, "/act?t=") {
				t.Errorf("%s/%s %s: links without a signer:\n%s", tt.channel, tt.name, locale, out)
			}
		}
	}
}

// A resolved alert carries no links, an acknowledged one only Resolve.
func TestActLinksFollowTheStatus(t *testing.T) {
	signer, err := auth.New(t.Context(), auth.Options{Key: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	s := newSet(t, "dingtalk", template.Options{LinkBase: "https://vigil.example.com", Links: signer})
	for status, want := range map[alert.Status]int{alert.Open: 2, alert.Acknowledged: 1, alert.Resolved: 0} {
		m := template.Example(1, template.EN)
		m.Alerts[0].Status = status
		out, err := s.Execute("text", s.Data(m))
		if err != nil {
			t.Fatal(err)
		}
		if got := len(actLink.FindAllString(out, -1)); got != want {
			t.Errorf("%s: %d links, want %d:\n%s", status, got, want, out)
		}
	}
}
