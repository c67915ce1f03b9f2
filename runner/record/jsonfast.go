package record

import (
	"encoding/json"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeFast decodes one JSON object as encoding/json does with UseNumber
// (objects as map[string]any, arrays as []any, numbers as json.Number, a
// repeated key keeping its last value, invalid UTF-8 and lone surrogates in
// strings as U+FFFD) in one pass over the bytes and without a Decoder. It
// answers only for well-formed input: anything it would reject, it leaves
// to encoding/json, whose error messages the dead letters carry.
func decodeFast(b []byte, sizeHint int, keys *keyCache) (map[string]any, bool) {
	d := fastDecoder{b: b, keys: keys}
	d.space()
	if d.i >= len(b) || b[d.i] != '{' {
		return nil, false
	}
	m, ok := d.object(sizeHint, 1)
	if !ok {
		return nil, false
	}
	d.space()
	return m, d.i == len(b)
}

type fastDecoder struct {
	b       []byte
	i       int
	scratch []byte
	keys    *keyCache // nil: no interning
}

// keyCache interns the field names of top-level objects (records of one
// stream repeat them, and one string per name serves every record) and
// short string values, boxed once (types, currencies, countries repeat).
type keyCache struct {
	keys map[string]string
	vals map[string]any
}

// The caches are bounded against streams whose names or values never
// repeat: past the limit, new ones are simply not kept.
const (
	maxKeys     = 512
	maxVals     = 4096
	maxValBytes = 24
)

func (d *fastDecoder) key(depth int) (string, bool) {
	if depth != 1 || d.keys == nil {
		return d.str()
	}
	if end := d.plainString(); end >= 0 {
		if k, ok := d.keys.keys[string(d.b[d.i+1:end])]; ok {
			d.i = end + 1
			return k, true
		}
	}
	k, ok := d.str()
	if ok && len(d.keys.keys) < maxKeys {
		if d.keys.keys == nil {
			d.keys.keys = map[string]string{}
		}
		d.keys.keys[k] = k
	}
	return k, ok
}

// plainString returns where the string at d.i ends (its closing quote) when
// it is short ASCII without escapes, else -1.
func (d *fastDecoder) plainString() int {
	b := d.b
	for i := d.i + 1; i < len(b) && i <= d.i+1+maxValBytes; i++ {
		switch c := b[i]; {
		case c == '"':
			return i
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return -1
		}
	}
	return -1
}

// strValue is a top-level string value, boxed once per distinct short value.
func (d *fastDecoder) strValue(depth int) (any, bool) {
	if depth != 1 || d.keys == nil {
		return d.str()
	}
	end := d.plainString()
	if end < 0 {
		return d.str()
	}
	if v, ok := d.keys.vals[string(d.b[d.i+1:end])]; ok {
		d.i = end + 1
		return v, true
	}
	s, ok := d.str()
	var v any = s
	if ok && len(d.keys.vals) < maxVals {
		if d.keys.vals == nil {
			d.keys.vals = map[string]any{}
		}
		d.keys.vals[s] = v
	}
	return v, ok
}

// maxDepth is encoding/json's nesting limit; deeper input is its to refuse.
const maxDepth = 10000

func (d *fastDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// object decodes an object; d.i is at its '{'.
func (d *fastDecoder) object(sizeHint, depth int) (map[string]any, bool) {
	if depth > maxDepth {
		return nil, false
	}
	d.i++ // {
	m := make(map[string]any, sizeHint)
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return m, true
	}
	for {
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, false
		}
		key, ok := d.key(depth)
		if !ok {
			return nil, false
		}
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, false
		}
		d.i++
		d.space()
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		m[key] = v
		d.space()
		if d.i >= len(d.b) {
			return nil, false
		}
		switch d.b[d.i] {
		case ',':
			d.i++
			d.space()
		case '}':
			d.i++
			return m, true
		default:
			return nil, false
		}
	}
}

func (d *fastDecoder) array(depth int) ([]any, bool) {
	if depth > maxDepth {
		return nil, false
	}
	d.i++ // [
	out := []any{}
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return out, true
	}
	for {
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		out = append(out, v)
		d.space()
		if d.i >= len(d.b) {
			return nil, false
		}
		switch d.b[d.i] {
		case ',':
			d.i++
			d.space()
		case ']':
			d.i++
			return out, true
		default:
			return nil, false
		}
	}
}

func (d *fastDecoder) value(depth int) (any, bool) {
	if d.i >= len(d.b) {
		return nil, false
	}
	switch c := d.b[d.i]; {
	case c == '"':
		return d.strValue(depth)
	case c == '{':
		return d.object(0, depth+1)
	case c == '[':
		return d.array(depth + 1)
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	return nil, false
}

func (d *fastDecoder) literal(word string) bool {
	if len(d.b)-d.i < len(word) || string(d.b[d.i:d.i+len(word)]) != word {
		return false
	}
	d.i += len(word)
	return true
}

// number scans a number by JSON's grammar and keeps its text.
func (d *fastDecoder) number() (any, bool) {
	b, start := d.b, d.i
	i := d.i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return nil, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return nil, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	d.i = i
	return json.Number(b[start:i]), true
}

// str decodes a string; d.i is at its opening quote.
func (d *fastDecoder) str() (string, bool) {
	b := d.b
	start := d.i + 1
	i := start
	// The common case: no escapes, ASCII or valid UTF-8, no control bytes.
	for i < len(b) {
		c := b[i]
		if c == '"' {
			d.i = i + 1
			return string(b[start:i]), true
		}
		if c == '\\' || c < 0x20 {
			break
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	return d.strSlow(start, i)
}

// strSlow decodes a string with escapes or invalid UTF-8 from i on, as
// encoding/json's unquote does.
func (d *fastDecoder) strSlow(start, i int) (string, bool) {
	b := d.b
	out := append(d.scratch[:0], b[start:i]...)
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			d.i = i + 1
			d.scratch = out
			return string(out), true
		case c < 0x20:
			return "", false
		case c == '\\':
			i++
			if i >= len(b) {
				return "", false
			}
			switch b[i] {
			case '"', '\\', '/':
				out = append(out, b[i])
				i++
			case 'b':
				out = append(out, '\b')
				i++
			case 'f':
				out = append(out, '\f')
				i++
			case 'n':
				out = append(out, '\n')
				i++
			case 'r':
				out = append(out, '\r')
				i++
			case 't':
				out = append(out, '\t')
				i++
			case 'u':
				r, ok := hex4(b, i+1)
				if !ok {
					return "", false
				}
				i += 5
				if utf16.IsSurrogate(r) {
					r2, ok := rune(-1), false
					if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
						r2, ok = hex4(b, i+2)
					}
					if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
						i += 6
						out = utf8.AppendRune(out, dec)
						break
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", false
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				out = append(out, "\uFFFD"...)
			} else {
				out = append(out, b[i:i+size]...)
			}
			i += size
		}
	}
	return "", false
}

// hex4 reads the four hex digits of a \u escape.
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	return r, true
}
