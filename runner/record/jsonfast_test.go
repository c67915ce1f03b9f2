package record

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// stdDecode is what decodeObject did before decodeFast: encoding/json with
// UseNumber, the whole input one object.
func stdDecode(b []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	m := map[string]any{}
	if err := dec.Decode(&m); err != nil {
		return nil, false
	}
	if len(bytes.TrimLeft(b[dec.InputOffset():], " \t\r\n")) > 0 {
		return nil, false
	}
	return m, true
}

// checkDecodeFast: whenever decodeFast answers, encoding/json answers the
// same; and it answers for every object encoding/json reads.
func checkDecodeFast(t *testing.T, in []byte) {
	t.Helper()
	var keys keyCache
	got, ok := decodeFast(in, 4, &keys)
	if ok {
		if again, _ := decodeFast(in, 4, &keys); !reflect.DeepEqual(again, got) {
			t.Fatalf("with the field names cached %q reads as %#v", in, again)
		}
	}
	want, wantOK := stdDecode(in)
	first := bytes.TrimLeft(in, " \t\r\n")
	if wantOK && len(first) > 0 && first[0] == '{' && !ok {
		t.Fatalf("decodeFast gave up on %q, which encoding/json reads as %#v", in, want)
	}
	if ok && !wantOK {
		t.Fatalf("decodeFast read %q as %#v; encoding/json refuses it", in, got)
	}
	if ok && !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeFast read %q as\n%#v\nencoding/json as\n%#v", in, got, want)
	}
}

func TestDecodeFastMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{}`, ` { } `, `{"a":1}`, `{"a":-0.5e+10,"b":1E3,"c":0,"d":-0}`, `{"a":"x","a":"y"}`,
		`{"s":"esc \" \\ \/ \b \f \n \r \t \u00e9 \u2028 \ud83d\ude00"}`,
		`{"lone":"\ud800x","lone2":"\udc00","pair":"\ud83d\u0041","bad":"\ud83d\ud83d"}`,
		"{\"utf8\":\"caf\xc3\xa9 \xff\xfe \xe2\x82\"}", "{\"ctl\":\"a\x01b\"}",
		`{"n":null,"t":true,"f":false,"arr":[],"obj":{},"nest":[{"a":[1,[2,{"b":null}]]}]}`,
		`{"big":123456789012345678901234567890,"tiny":1e-400,"huge":1e400}`,
		`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":-}`, `{"a":+1}`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"\'"}`,
		`{"a":1,}`, `{"a" 1}`, `{a:1}`, `{"a":[1,]}`, `{"a":tru}`, `{"a":nul}`, `{"a":1}x`, `{"a":1} {}`, `[1]`, `"x"`, `{"a":"`, `{`, ``, `   `,
		"{\"a\":\"tab\there\"}", `{"a":"\u0000"}`, `{"\u0041":1}`, `{"k\"ey":"v"}`,
		strings.Repeat(`{"a":`, 50) + `1` + strings.Repeat(`}`, 50),
		`{"id":"p-1","ts":"2026-01-02T03:04:05.123Z","amount":64.49,"currency":"eur","failed_attempts":"0"}`,
	} {
		checkDecodeFast(t, []byte(in))
	}
}

func TestDecodeFastDeepNestingIsLeftToEncodingJSON(t *testing.T) {
	in := []byte(strings.Repeat(`{"a":`, maxDepth+5) + `1` + strings.Repeat(`}`, maxDepth+5))
	if _, ok := decodeFast(in, 0, nil); ok {
		t.Fatal("decodeFast must leave nesting beyond encoding/json's limit to encoding/json")
	}
}

func FuzzDecodeFast(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"s":"\ud83d\ude00 \u00e9 \n"}`, "{\"x\":\"\xff\"}", `{"a":[1,{"b":null}],"c":-1.5e-3}`, benchPayment} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkDecodeFast(t, in)
	})
}
