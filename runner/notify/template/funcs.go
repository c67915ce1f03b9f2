package template

import (
	"maps"
	"slices"
	"strings"
	ttemplate "text/template"
	"time"
	"unicode/utf8"

	"github.com/vigil-risk/vigil/runner/decision"
)

var words = map[string]map[string]string{
	EN: {
		"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low",
		"block": "Block", "review": "Review", "allow": "Allow",
	},
	ZH: {
		"critical": "严重", "high": "高", "medium": "中", "low": "低",
		"block": "拦截", "review": "人工审核", "allow": "放行",
	},
}

// funcMap is the functions templates may call, bound to a locale and a
// time zone.
func funcMap(locale string, loc *time.Location) ttemplate.FuncMap {
	word := func(s string) string {
		if w, ok := words[locale][s]; ok {
			return w
		}
		return s
	}
	return ttemplate.FuncMap{
		"severity": func(s decision.Severity) string { return word(string(s)) },
		"action":   func(a decision.Action) string { return word(string(a)) },
		"time": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.In(loc).Format("2006-01-02 15:04:05 MST")
		},
		"truncate":    Truncate,
		"join":        func(sep string, list []string) string { return strings.Join(list, sep) },
		"escapeSlack": EscapeSlack,
		"labels": func(m map[string]string) string {
			var b strings.Builder
			for i, k := range slices.Sorted(maps.Keys(m)) {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(k + "=" + m[k])
			}
			return b.String()
		},
	}
}

// Truncate keeps at most n characters of s, ending in "…" when it cuts.
func Truncate(n int, s string) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	i, count := 0, 0
	for i = range s {
		if count == n-1 {
			break
		}
		count++
	}
	return s[:i] + "…"
}

// TruncateBytes keeps at most n bytes of s on a character boundary, ending
// in "…" (counted in n) when it cuts.
func TruncateBytes(n int, s string) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	if n < len(ellipsis) {
		return ""
	}
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// EscapeSlack escapes the three characters Slack's mrkdwn reserves.
func EscapeSlack(s string) string { return slackEscaper.Replace(s) }
