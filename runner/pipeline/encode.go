package pipeline

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/vigil-risk/vigil/runner/decision"
)

// appendDecision appends d as one line of the decision log: the very bytes
// json.Marshal(d) writes (decision.Decision.MarshalJSON), without going
// through reflection and without the second pass encoding/json makes over a
// Marshaler's output. Anything it does not know how to write the same way
// (a detail of another Go type, a float that is not finite, a time outside
// years 0-9999) is left to json.Marshal.
func appendDecision(b []byte, d *decision.Decision) ([]byte, error) {
	start := len(b)
	b, ok := appendDecisionFast(b, d)
	if ok {
		return b, nil
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return b[:start], err
	}
	return append(b[:start], raw...), nil
}

func appendDecisionFast(b []byte, d *decision.Decision) ([]byte, bool) {
	ok := true
	b = append(b, `{"record_id":`...)
	b = appendString(b, d.RecordID)
	if d.RecordType != "" {
		b = append(b, `,"record_type":`...)
		b = appendString(b, d.RecordType)
	}
	b = append(b, `,"ts":`...)
	if y := d.Time.Year(); y < 0 || y > 9999 || d.Time.Location() != time.UTC {
		return b, false // time.Time.MarshalJSON's checks, or an offset to write
	}
	b = append(b, '"')
	b = d.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","action":`...)
	b = appendString(b, string(d.Action))
	b = append(b, `,"score":`...)
	b = strconv.AppendInt(b, int64(d.Score), 10)
	b = append(b, `,"hits":`...)
	if b, ok = appendHits(b, d.Hits); !ok {
		return b, false
	}
	b = append(b, `,"shadow_hits":`...)
	if b, ok = appendHits(b, d.ShadowHits); !ok {
		return b, false
	}
	b = append(b, `,"policy_revision":`...)
	b = appendString(b, d.PolicyRevision)
	b = append(b, `,"runner_version":`...)
	b = appendString(b, d.RunnerVersion)
	if d.Source != "" {
		b = append(b, `,"source":`...)
		b = appendString(b, d.Source)
	}
	b = append(b, `,"eval_us":`...)
	b = strconv.AppendInt(b, d.EvalUS, 10)
	if len(d.Features) > 0 {
		b = append(b, `,"features":`...)
		if b, ok = appendValue(b, d.Features); !ok {
			return b, false
		}
	}
	if len(d.Scores) > 0 {
		b = append(b, `,"scores":`...)
		b = append(b, '{')
		for i, k := range slices.Sorted(mapKeys(d.Scores)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			if b, ok = appendFloat(b, d.Scores[k]); !ok {
				return b, false
			}
		}
		b = append(b, '}')
	}
	return append(b, '}'), true
}

func appendHits(b []byte, hits []decision.Hit) ([]byte, bool) {
	b = append(b, '[')
	for i := range hits {
		h := &hits[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"rule":`...)
		b = appendString(b, h.Rule)
		if h.Title != "" {
			b = append(b, `,"title":`...)
			b = appendString(b, h.Title)
		}
		b = append(b, `,"severity":`...)
		b = appendString(b, string(h.Severity))
		b = append(b, `,"action":`...)
		b = appendString(b, string(h.Action))
		b = append(b, `,"reason":`...)
		b = appendString(b, h.Reason)
		if h.Entity != nil {
			b = append(b, `,"entity":{"field":`...)
			b = appendString(b, h.Entity.Field)
			b = append(b, `,"value":`...)
			b = appendString(b, h.Entity.Value)
			b = append(b, '}')
		}
		if len(h.Details) > 0 {
			b = append(b, `,"details":`...)
			var ok bool
			if b, ok = appendValue(b, h.Details); !ok {
				return b, false
			}
		}
		b = append(b, '}')
	}
	return append(b, ']'), true
}

// appendValue writes the plain Go values records and hit details hold.
func appendValue(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), true
	case string:
		return appendString(b, x), true
	case bool:
		return strconv.AppendBool(b, x), true
	case float64:
		return appendFloat(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10), true
	case int64:
		return strconv.AppendInt(b, x, 10), true
	case map[string]any:
		if x == nil {
			return append(b, "null"...), true
		}
		b = append(b, '{')
		for i, k := range slices.Sorted(mapKeys(x)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			var ok bool
			if b, ok = appendValue(b, x[k]); !ok {
				return b, false
			}
		}
		return append(b, '}'), true
	case []any:
		if x == nil {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendValue(b, e); !ok {
				return b, false
			}
		}
		return append(b, ']'), true
	}
	return b, false
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// appendFloat writes a float64 as encoding/json does (floatEncoder).
func appendFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

const hexDigits = "0123456789abcdef"

// appendString writes a JSON string as encoding/json does with HTML
// escaping on (json.Marshal's default): <, > and & as \u00XX, U+2028 and
// U+2029 escaped, invalid UTF-8 as U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
