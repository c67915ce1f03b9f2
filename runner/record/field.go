package record

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// normalize converts a decoded value (from JSON, CSV or YAML) to the field's
// type: string, float64 (number and integer), bool, a UTC RFC 3339 string
// (timestamp), map[string]any (object) or []any (array). It does not check
// constraints; check does.
func (f *Field) normalize(v any) (any, error) {
	nv, _, _, err := f.convert(v)
	return nv, err
}

// convert is normalize for the per-record path. It also returns the parsed
// time of a timestamp field, and changed=false when v already is in normal
// form, so that the caller can skip a map write and the value is not boxed
// again: a record that arrives clean costs no allocation here.
func (f *Field) convert(v any) (nv any, t time.Time, changed bool, err error) {
	switch f.Type {
	case TypeString:
		s, ok := v.(string)
		if !ok {
			if s, ok = numberText(v); !ok {
				return nil, t, false, fmt.Errorf("want string, got %s", describe(v))
			}
			changed = true // ids often arrive as JSON numbers: keep their exact text
		}
		orig := s
		if f.Trim {
			s = strings.TrimSpace(s)
		}
		if f.Lower {
			s = strings.ToLower(s) // returns s itself when there is nothing to fold
		} else if f.Upper {
			s = strings.ToUpper(s)
		}
		if !changed && s == orig {
			return v, t, false, nil
		}
		return s, t, true, nil
	case TypeNumber, TypeInteger:
		x, err := toFloat(v)
		if err != nil {
			return nil, t, false, err
		}
		if f.Type == TypeInteger && x != math.Trunc(x) {
			return nil, t, false, fmt.Errorf("want integer, got %v", x)
		}
		if _, ok := v.(float64); ok {
			return v, t, false, nil
		}
		return x, t, true, nil
	case TypeBoolean:
		b, err := toBool(v)
		if err != nil {
			return nil, t, false, err
		}
		_, ok := v.(bool)
		return b, t, !ok, nil
	case TypeTimestamp:
		t, err := ParseTime(v)
		if err != nil {
			return nil, t, false, err
		}
		var buf [64]byte
		b := t.AppendFormat(buf[:0], time.RFC3339Nano)
		if s, ok := v.(string); ok && s == string(b) {
			return v, t, false, nil
		}
		return string(b), t, true, nil
	case TypeObject:
		if _, ok := v.(map[string]any); !ok {
			return nil, t, false, fmt.Errorf("want object, got %s", describe(v))
		}
		nv, changed, err := plain(v)
		return nv, t, changed, err
	case TypeArray:
		if _, ok := v.([]any); !ok {
			return nil, t, false, fmt.Errorf("want array, got %s", describe(v))
		}
		nv, changed, err := plain(v)
		return nv, t, changed, err
	}
	return nil, t, false, fmt.Errorf("unsupported type %q", f.Type)
}

// numberText renders a number given for a string field by its exact text.
func numberText(v any) (string, bool) {
	switch n := v.(type) {
	case json.Number:
		return string(n), true
	case int:
		return strconv.Itoa(n), true
	case int64:
		return strconv.FormatInt(n, 10), true
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return "", false
		}
		return strconv.FormatFloat(n, 'f', -1, 64), true
	}
	return "", false
}

// plain makes v a plain Go value (see Record) in place: json.Number and Go
// integers become float64, inside objects and arrays too. changed says
// whether v itself must be replaced by nv (containers are fixed in place).
func plain(v any) (nv any, changed bool, err error) {
	switch x := v.(type) {
	case nil, string, bool:
		return v, false, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, false, fmt.Errorf("want a finite number, got %v", x)
		}
		return v, false, nil
	case json.Number, int, int64, int32, float32:
		f, err := toFloat(v)
		return f, true, err
	case map[string]any:
		for k, e := range x {
			ne, ch, err := plain(e)
			if err != nil {
				return nil, false, fmt.Errorf("%s: %w", k, err)
			}
			if ch {
				x[k] = ne
			}
		}
		return v, false, nil
	case []any:
		for i, e := range x {
			ne, ch, err := plain(e)
			if err != nil {
				return nil, false, fmt.Errorf("[%d]: %w", i, err)
			}
			if ch {
				x[i] = ne
			}
		}
		return v, false, nil
	}
	return nil, false, fmt.Errorf("unsupported value of Go type %T", v)
}

// clone deep-copies objects and arrays, so that a default shared by every
// record is never aliased by one of them.
func clone(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = clone(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = clone(e)
		}
		return a
	}
	return v
}

// check verifies enum, range, pattern and length on a normalised value.
func (f *Field) check(v any) error {
	if len(f.Enum) > 0 {
		found := false
		for _, e := range f.Enum {
			if e == v {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("%s is not one of %s", describe(v), enumList(f.Enum))
		}
	}
	switch x := v.(type) {
	case float64:
		if f.Min != nil && x < *f.Min {
			return fmt.Errorf("%v is below the minimum %v", x, *f.Min)
		}
		if f.Max != nil && x > *f.Max {
			return fmt.Errorf("%v is above the maximum %v", x, *f.Max)
		}
	case string:
		if f.MaxLength > 0 && len(x) > f.MaxLength {
			return fmt.Errorf("%d bytes is longer than max_length %d", len(x), f.MaxLength)
		}
		if f.Pattern != nil && !f.Pattern.MatchString(x) {
			return fmt.Errorf("%q does not match pattern %s", x, f.Pattern)
		}
	}
	return nil
}

func toFloat(v any) (float64, error) {
	var x float64
	switch n := v.(type) {
	case float64:
		x = n
	case int:
		x = float64(n)
	case int64:
		x = float64(n)
	case int32:
		x = float64(n)
	case float32:
		x = float64(n)
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil {
			return 0, fmt.Errorf("number %s is out of range", n)
		}
		x = f
	case string:
		s := strings.TrimSpace(n)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || !decimal(s) {
			return 0, fmt.Errorf("want number, got %s", describe(v))
		}
		x = f
	default:
		return 0, fmt.Errorf("want number, got %s", describe(v))
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("want a finite number, got %v", x)
	}
	return x, nil
}

// decimal reports whether s looks like a decimal number, so that the Go
// extras ParseFloat accepts ("0x1p4", "1_000", "Inf") are not taken for one.
func decimal(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == '.', c == '-', c == '+', c == 'e', c == 'E':
		default:
			return false
		}
	}
	return s != ""
}

func toBool(v any) (bool, error) {
	switch b := v.(type) {
	case bool:
		return b, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(b)) {
		case "true", "1", "yes", "y", "t":
			return true, nil
		case "false", "0", "no", "n", "f":
			return false, nil
		}
	case float64, int, int64, json.Number:
		x, err := toFloat(b)
		if err == nil && (x == 0 || x == 1) {
			return x == 1, nil
		}
	}
	return false, fmt.Errorf("want boolean, got %s", describe(v))
}

// Epoch values at or above this are milliseconds, below it seconds: 1e11 s is
// the year 5138, 1e11 ms is March 1973, so no real timestamp is ambiguous.
const epochMillisFrom = 1e11

// ParseTime reads RFC 3339 (with or without fractional seconds, any offset),
// "2006-01-02 15:04:05" (taken as UTC, as pandas writes it) or epoch seconds or
// milliseconds as a number or numeric string.
func ParseTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), nil
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return time.Time{}, fmt.Errorf("want timestamp, got empty string")
		}
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC(), nil
		}
		for _, layout := range []string{"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t.UTC(), nil
			}
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && decimal(s) {
			return epoch(f)
		}
		return time.Time{}, fmt.Errorf("want timestamp (RFC 3339 or epoch seconds/milliseconds), got %q", x)
	case float64, int, int64, json.Number:
		f, err := toFloat(x)
		if err != nil {
			return time.Time{}, fmt.Errorf("want timestamp, got %s", describe(v))
		}
		return epoch(f)
	}
	return time.Time{}, fmt.Errorf("want timestamp, got %s", describe(v))
}

func epoch(f float64) (time.Time, error) {
	if f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, fmt.Errorf("want a non-negative epoch timestamp, got %v", f)
	}
	if f >= epochMillisFrom {
		if f >= 1e14 { // beyond year 5138 even in milliseconds
			return time.Time{}, fmt.Errorf("epoch timestamp %v is out of range", f)
		}
		ms := math.Round(f)
		return time.UnixMilli(int64(ms)).UTC(), nil
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
}

// FormatTime is the one textual form of event time in records and logs:
// RFC 3339 in UTC with as many fractional digits as needed.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// describe renders a bad value for an error message, short and typed.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if len(x) > 40 {
			x = x[:40] + "…"
		}
		return strconv.Quote(x)
	case bool:
		return "boolean " + strconv.FormatBool(x)
	case float64, int, int64, json.Number:
		return fmt.Sprintf("number %v", x)
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

func enumList(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = fmt.Sprint(v)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
