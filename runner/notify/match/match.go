// Package match holds label matchers as Alertmanager writes them —
// severity="high", env!="dev", rule=~"card_.*", owner!~"test|qa" — shared
// by routes, silences and inhibition rules.
//
// Regular expressions are RE2 (Go's regexp) and anchored at both ends, so
// rule=~"card" matches the rule card and not card_testing. A label that is
// absent has the empty value: foo="" matches alerts without foo, and foo!=""
// those with it.
package match

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"

	"github.com/vigil-risk/vigil/runner/alert"
)

// Type is a matcher's operator.
type Type int

const (
	Equal     Type = iota // =
	NotEqual              // !=
	Regexp                // =~
	NotRegexp             // !~
)

func (t Type) String() string {
	return [...]string{"=", "!=", "=~", "!~"}[t]
}

// Matcher tests one label.
type Matcher struct {
	Name  string
	Type  Type
	Value string
	re    *regexp.Regexp // for Regexp and NotRegexp
}

// New returns a matcher; a bad label name or regular expression is an error.
func New(t Type, name, value string) (*Matcher, error) {
	if !validName(name) {
		return nil, fmt.Errorf("label name %q: want letters, digits and '_', not starting with a digit", name)
	}
	m := &Matcher{Name: name, Type: t, Value: value}
	if t == Regexp || t == NotRegexp {
		// Checked alone first, so that an error quotes what the user wrote.
		if _, err := regexp.Compile(value); err != nil {
			return nil, fmt.Errorf("label %s: regular expression %q: %w", name, value, unwrapRegexp(err))
		}
		m.re = regexp.MustCompile("^(?:" + value + ")$")
	}
	return m, nil
}

// unwrapRegexp drops the repeated expression from regexp's error.
func unwrapRegexp(err error) error {
	var se *syntax.Error
	if errors.As(err, &se) {
		return fmt.Errorf("%s at %q", se.Code, se.Expr)
	}
	return err
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Matches reports whether the value (empty for an absent label) passes.
func (m *Matcher) Matches(value string) bool {
	switch m.Type {
	case Equal:
		return value == m.Value
	case NotEqual:
		return value != m.Value
	case Regexp:
		return m.re.MatchString(value)
	default:
		return !m.re.MatchString(value)
	}
}

// String renders the matcher as Parse reads it: name, operator, quoted value.
func (m *Matcher) String() string {
	return m.Name + m.Type.String() + strconv.Quote(m.Value)
}

// Parse reads one matcher: a label name, an operator (=, !=, =~, !~) and a
// value, quoted ("high", with Go escapes) or bare (high, trimmed).
func Parse(s string) (*Matcher, error) {
	in := strings.TrimSpace(s)
	end := strings.IndexAny(in, "=!")
	if end < 0 {
		return nil, fmt.Errorf("matcher `%s`: want name, an operator (=, !=, =~, !~) and a value", s)
	}
	name := strings.TrimSpace(in[:end])
	rest := in[end:]
	var t Type
	switch {
	case strings.HasPrefix(rest, "=~"):
		t, rest = Regexp, rest[2:]
	case strings.HasPrefix(rest, "!~"):
		t, rest = NotRegexp, rest[2:]
	case strings.HasPrefix(rest, "!="):
		t, rest = NotEqual, rest[2:]
	case strings.HasPrefix(rest, "="):
		t, rest = Equal, rest[1:]
	default:
		return nil, fmt.Errorf("matcher `%s`: want an operator =, !=, =~ or !~ after %q", s, name)
	}
	value := strings.TrimSpace(rest)
	if strings.HasPrefix(value, `"`) {
		v, err := strconv.Unquote(value)
		if err != nil {
			return nil, fmt.Errorf("matcher `%s`: value %s: not a properly quoted string", s, value)
		}
		value = v
	}
	m, err := New(t, name, value)
	if err != nil {
		return nil, fmt.Errorf("matcher `%s`: %w", s, err)
	}
	return m, nil
}

// Matchers is a conjunction: all must match.
type Matchers []*Matcher

// ParseAll parses each string as a matcher; the error names the first bad
// one by its position.
func ParseAll(ss []string) (Matchers, error) {
	out := make(Matchers, 0, len(ss))
	for i, s := range ss {
		m, err := Parse(s)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// Matches reports whether the label set passes every matcher; no matchers
// match everything.
func (ms Matchers) Matches(l alert.Labels) bool {
	for _, m := range ms {
		if !m.Matches(l[m.Name]) {
			return false
		}
	}
	return true
}

// String renders the matchers as {a="1", b=~"2"}, in their order.
func (ms Matchers) String() string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// Strings returns each matcher as text.
func (ms Matchers) Strings() []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.String()
	}
	return out
}

// MarshalJSON writes the matchers as a list of strings.
func (ms Matchers) MarshalJSON() ([]byte, error) {
	return json.Marshal(ms.Strings())
}

// UnmarshalJSON reads a list of matcher strings.
func (ms *Matchers) UnmarshalJSON(b []byte) error {
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return fmt.Errorf("matchers: want a list of strings such as [\"severity=high\"]: %w", err)
	}
	parsed, err := ParseAll(ss)
	if err != nil {
		return fmt.Errorf("matchers%w", err)
	}
	*ms = parsed
	return nil
}
