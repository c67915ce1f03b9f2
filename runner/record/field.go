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
	switch f.Type {
	case TypeString:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want string, got %s", describe(v))
		}
		if f.Trim {
			s = strings.TrimSpace(s)
		}
		if f.Lower {
			s = strings.ToLower(s)
		} else if f.Upper {
			s = strings.ToUpper(s)
		}
		return s, nil
	case TypeNumber, TypeInteger:
		x, err := toFloat(v)
		if err != nil {
			return nil, err
		}
		if f.Type == TypeInteger && x != math.Trunc(x) {
			return nil, fmt.Errorf("want integer, got %v", x)
		}
		return x, nil
	case TypeBoolean:
		return toBool(v)
	case TypeTimestamp:
		t, err := ParseTime(v)
		if err != nil {
			return nil, err
		}
		return FormatTime(t), nil
	case TypeObject:
		if m, ok := v.(map[string]any); ok {
			return m, nil
		}
		return nil, fmt.Errorf("want object, got %s", describe(v))
	case TypeArray:
		if a, ok := v.([]any); ok {
			return a, nil
		}
		return nil, fmt.Errorf("want array, got %s", describe(v))
	}
	return nil, fmt.Errorf("unsupported type %q", f.Type)
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
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil {
			return 0, fmt.Errorf("want number, got %s", n)
		}
		x = f
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		if err != nil {
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
		if f, err := strconv.ParseFloat(s, 64); err == nil {
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
