// Package template renders notifications with Go templates: one default set
// per channel and locale (zh, en) embedded in the binary, which an operator
// can override per receiver with a template file whose {{define}}s replace
// the defaults of the same name. It also splits a message that is too large
// for its vendor into numbered parts (Render).
//
// Templates see a *Data (a message or one part of it); per-alert templates
// (Feishu's and Slack's "alert", PagerDuty's and Alertmanager's) see an
// Alert. Besides text/template's builtins they may call:
//
//	severity .Severity   the severity's name in the message's locale
//	action .Action       the action's name in the message's locale
//	time .FirstSeen      a time in the receiver's time zone ("—" when zero)
//	truncate 80 .Reason  at most 80 characters, "…" when cut
//	join ", " .Tags      a list joined
//	escapeSlack .Reason  &, < and > escaped for Slack mrkdwn
//	labels .GroupLabels  "k=v, k=v" sorted by key
package template

import (
	"embed"
	"errors"
	"fmt"
	htemplate "html/template"
	"io/fs"
	"os"
	"slices"
	"strings"
	ttemplate "text/template"
	"time"

	"github.com/vigil-risk/vigil/runner/notify"
)

//go:embed defaults
var defaults embed.FS

// Locales with default templates.
const (
	EN = "en"
	ZH = "zh"
)

// channels with default templates, and the templates each one executes.
var channels = map[string][]string{
	"dingtalk":     {"title", "text", "button"},
	"wecom":        {"markdown", "text"},
	"feishu":       {"title", "summary", "alert", "footer", "button"},
	"slack":        {"title", "summary", "alert", "footer"},
	"email":        {"subject", "text", "html"},
	"sms":          {"text", "status", "rule", "count"},
	"pagerduty":    {"summary"},
	"alertmanager": {"summary", "description"},
	"webhook":      nil, // a fixed JSON schema: the set only splits messages
	"log":          nil,
}

// Names lists the templates a channel executes — what an operator's file
// may redefine, besides the shared "vigil.*" pieces they call — or nil for
// a channel without templates.
func Names(channel string) []string { return slices.Clone(channels[channel]) }

// htmlNames are executed with html/template, which escapes what it inserts.
var htmlNames = map[string]bool{"html": true}

// Options tune a Set.
type Options struct {
	Locale   string         // for messages that name none: "zh" or "en" (default "en")
	Location *time.Location // where times are shown (default UTC)
	File     string         // an operator's template file; empty: the defaults only
	LinkBase string         // the console's base URL, for messages that carry none
	// Links signs the Acknowledge and Resolve links of firing alerts, sent
	// to the receiver; nil, or no link base: messages carry none.
	Links LinkSigner
	Now   func() time.Time
}

// LinkSigner makes the token of a single-use link that acts on an alert
// (the server's auth.Auth): action is "ack" or "resolve", actor who the
// link was sent to.
type LinkSigner interface {
	SignLink(alertID int64, action, actor string) (string, error)
}

// Set is one receiver's templates: the channel's defaults in every locale,
// with the operator's file applied over each.
type Set struct {
	channel  string
	locale   string
	linkBase string
	links    LinkSigner
	now      func() time.Time
	text     map[string]*ttemplate.Template
	html     map[string]*htemplate.Template
}

// For is what a channel renders with: s when the operator gave templates
// (they must have been made for that channel), else the channel's defaults.
func For(channel string, s *Set) (*Set, error) {
	if s == nil {
		return New(channel, Options{})
	}
	if s.channel != channel {
		return nil, fmt.Errorf("templates: made for %s, not %s", s.channel, channel)
	}
	return s, nil
}

// New loads the default templates of channel, applies the operator's file
// over them, and tries every template on an example message, so that a
// broken template stops the runner at start with its file and line rather
// than failing an alert later.
func New(channel string, opts Options) (*Set, error) {
	names, ok := channels[channel]
	if !ok {
		return nil, fmt.Errorf("templates: no default templates for channel %q", channel)
	}
	switch opts.Locale {
	case "":
		opts.Locale = EN
	case EN, ZH:
	default:
		return nil, fmt.Errorf("locale %q: want zh or en", opts.Locale)
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var override []byte
	if opts.File != "" {
		b, err := os.ReadFile(opts.File)
		if err != nil {
			return nil, fmt.Errorf("template: %w", err)
		}
		override = b
	}
	s := &Set{channel: channel, locale: opts.Locale, linkBase: strings.TrimRight(opts.LinkBase, "/"), links: opts.Links, now: opts.Now,
		text: map[string]*ttemplate.Template{}, html: map[string]*htemplate.Template{}}
	wantHTML := slices.ContainsFunc(names, func(n string) bool { return htmlNames[n] })
	for _, locale := range []string{EN, ZH} {
		files := []string{"defaults/" + locale + "/common.tmpl"}
		if len(names) > 0 {
			files = append(files, "defaults/"+locale+"/"+channel+".tmpl")
		}
		funcs := funcMap(locale, opts.Location)
		t := ttemplate.New(channel).Funcs(funcs).Option("missingkey=zero")
		for _, f := range files {
			b, err := fs.ReadFile(defaults, f)
			if err != nil {
				return nil, fmt.Errorf("templates: %w", err) // a build defect, caught by tests
			}
			if _, err := t.New(f).Parse(string(b)); err != nil {
				return nil, fmt.Errorf("templates: %s: %w", f, err)
			}
		}
		if override != nil {
			if _, err := t.New(opts.File).Parse(string(override)); err != nil {
				return nil, fmt.Errorf("template %s: %w", opts.File, err)
			}
		}
		s.text[locale] = t
		if wantHTML {
			h := htemplate.New(channel).Funcs(htemplate.FuncMap(funcs)).Option("missingkey=zero")
			for _, f := range files {
				b, _ := fs.ReadFile(defaults, f)
				if _, err := h.New(f).Parse(string(b)); err != nil {
					return nil, fmt.Errorf("templates: %s: %w", f, err)
				}
			}
			if override != nil {
				if _, err := h.New(opts.File).Parse(string(override)); err != nil {
					return nil, fmt.Errorf("template %s: %w", opts.File, err)
				}
			}
			s.html[locale] = h
		}
	}
	if err := s.check(names); err != nil {
		if opts.File != "" {
			return nil, fmt.Errorf("template %s: %w", opts.File, err)
		}
		return nil, fmt.Errorf("templates: %w", err)
	}
	return s, nil
}

// check executes every template the channel uses on example messages in
// both locales, whole and split, with one alert and many.
func (s *Set) check(names []string) error {
	for _, locale := range []string{EN, ZH} {
		for _, n := range []int{1, 7} {
			d := s.Data(Example(n, locale))
			parts := []*Data{d}
			if n > 1 {
				c := s.Data(Example(n, locale))
				c.compact(true)
				parts = append(parts, c.part(0, 1, 1, 2))
			}
			for _, part := range parts {
				for _, name := range names {
					var err error
					if perAlert[s.channel][name] {
						_, err = s.Alert(name, part, part.Alerts[0])
					} else {
						_, err = s.Execute(name, part)
					}
					if err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// perAlert are the templates executed once per alert, with an Alert as dot.
var perAlert = map[string]map[string]bool{
	"feishu":       {"alert": true},
	"slack":        {"alert": true},
	"pagerduty":    {"summary": true},
	"alertmanager": {"summary": true, "description": true},
}

// Channel is the channel the set was made for.
func (s *Set) Channel() string { return s.channel }

// Data is the whole message m as templates see it.
func (s *Set) Data(m *notify.Message) *Data {
	locale := m.Locale
	if _, ok := s.text[locale]; !ok {
		locale = s.locale
	}
	return newData(m, locale, s.linkBase, s.links, s.now())
}

// Execute runs the named template on d, in d's locale. Text templates'
// output is trimmed, with runs of blank lines folded into one.
func (s *Set) Execute(name string, d *Data) (string, error) {
	return s.run(name, d.Locale, d)
}

// Alert runs a per-alert template on a, in d's locale.
func (s *Set) Alert(name string, d *Data, a Alert) (string, error) {
	return s.run(name, d.Locale, a)
}

func (s *Set) run(name, locale string, dot any) (string, error) {
	var b strings.Builder
	if htmlNames[name] {
		t := s.html[locale]
		if t == nil || t.Lookup(name) == nil {
			return "", fmt.Errorf("no template %q for %s", name, s.channel)
		}
		if err := t.ExecuteTemplate(&b, name, dot); err != nil {
			return "", cleanErr(err)
		}
		return b.String(), nil
	}
	t := s.text[locale]
	if t == nil || t.Lookup(name) == nil {
		return "", fmt.Errorf("no template %q for %s", name, s.channel)
	}
	if err := t.ExecuteTemplate(&b, name, dot); err != nil {
		return "", cleanErr(err)
	}
	return tidy(b.String()), nil
}

// tidy trims a text template's output and folds runs of blank lines into
// one, so that templates can be laid out for reading.
func tidy(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "\n\n\n") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	newlines := 0
	for _, r := range s {
		if r == '\n' {
			newlines++
			if newlines > 2 {
				continue
			}
		} else if r != ' ' && r != '\t' && r != '\r' {
			newlines = 0
		}
		b.WriteRune(r)
	}
	return b.String()
}

// cleanErr keeps a template error to its first line.
func cleanErr(err error) error {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return errors.New(msg)
}
