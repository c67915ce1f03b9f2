package console

import (
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	"time"
	"unicode/utf8"
)

// funcs are what the templates may call besides html/template's builtins.
var funcs = template.FuncMap{
	"when":     when,
	"whenp":    func(t *time.Time) string { return whenPtr(t) },
	"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"ago":      ago,
	"short":    short,
	"json":     prettyJSON,
	"value":    value,
	"truncate": truncate,
	"mulf":     func(a, b float64) float64 { return a * b },
}

// when shows a time in UTC, to the second; "—" when unset.
func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func whenPtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return when(*t)
}

// ago is how long before now t was, roughly: "3m", "2h", "5d".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "in " + ago(t, now)
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// short is the first n characters of a hash or an id.
func short(n int, s string) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func truncate(n int, s string) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// prettyJSON indents raw JSON for a <pre>; what is not JSON shows as is.
func prettyJSON(raw json.RawMessage) string {
	var out strings.Builder
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	enc := json.NewEncoder(&out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSpace(out.String())
}

// value shows a record field, feature or score.
func value(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case float64:
		return fmt.Sprintf("%.6g", x)
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}
