package record

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in   string
		want Format
		err  bool
	}{
		{"", FormatAuto, false}, {"auto", FormatAuto, false}, {"JSON", FormatJSON, false}, {" jsonl ", FormatJSONL, false},
		{"ndjson", FormatJSONL, false}, {"csv", FormatCSV, false}, {"xml", "", true}, {"tsv", "", true},
	}
	for _, tt := range tests {
		got, err := ParseFormat(tt.in)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.err)
		}
		if err != nil && !strings.Contains(err.Error(), tt.in) {
			t.Errorf("ParseFormat(%q) error %q does not name the input", tt.in, err)
		}
	}
}

func TestFormatFor(t *testing.T) {
	tests := map[string]Format{
		"a/b.jsonl": FormatJSONL, "x.NDJSON": FormatJSONL, "x.json": FormatJSON, "data/tx.CSV": FormatCSV,
		"-": FormatAuto, "payments": FormatAuto, "x.json.gz": FormatJSON, "x.csv.gz": FormatCSV, "x.txt": FormatAuto,
	}
	for path, want := range tests {
		if got := FormatFor(path); got != want {
			t.Errorf("FormatFor(%q) = %q, want %q", path, got, want)
		}
	}
}

// got is a compact view of what a Reader yielded, for table comparisons:
// "rec <id> @line#index" or "dead @line#index: <errors> | <raw>".
func got(items []item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		if it.dead != nil {
			out[i] = "dead " + it.dead.Position.String() + "#" + strconv.Itoa(it.dead.Index) + ": " + errText(it.dead.Errors) + " | " + it.dead.Raw
		} else {
			out[i] = "rec " + it.rec.ID
		}
	}
	return out
}

func errText(errs []FieldError) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func TestReader(t *testing.T) {
	const (
		r1 = `{"id": "a", "ts": "2026-01-02T03:04:05Z"}`
		r2 = `{"id": "b", "ts": 1767323045}`
		r3 = `{"id": "c", "ts": "2026-01-02T03:04:05Z", "amount": "7"}`
	)
	tests := []struct {
		name   string
		format Format
		in     string
		opts   []ReaderOption
		want   []string
	}{
		// JSONL.
		{name: "jsonl", format: FormatJSONL, in: r1 + "\n" + r2 + "\n", want: []string{"rec a", "rec b"}},
		{name: "jsonl blank lines skipped", format: FormatJSONL, in: "\n" + r1 + "\n  \n\n" + r2 + "\n\n",
			want: []string{"rec a", "rec b"}},
		{name: "jsonl final line without newline", format: FormatJSONL, in: r1 + "\n" + r2, want: []string{"rec a", "rec b"}},
		{name: "jsonl CRLF", format: FormatJSONL, in: r1 + "\r\n" + `{"id": "bad"}` + "\r\n" + r2 + "\r\n",
			want: []string{"rec a", `dead src:2#1: field "ts": required field is missing | {"id": "bad"}`, "rec b"}},
		{name: "jsonl malformed line in the middle", format: FormatJSONL, in: r1 + "\n" + `{"id": "x", "ts": }` + "\n" + r2 + "\n" + r3 + "\n",
			want: []string{"rec a", `dead src:2#1: malformed JSON: invalid character '}' looking for beginning of value at column 19 | {"id": "x", "ts": }`, "rec b", "rec c"}},
		{name: "jsonl truncated line", format: FormatJSONL, in: `{"id": "x"` + "\n" + r1,
			want: []string{`dead src:1#0: malformed JSON: unexpected end of input | {"id": "x"`, "rec a"}},
		{name: "jsonl not objects", format: FormatJSONL, in: "[" + r1 + "]\n42\n\"s\"\nnull\ntrue\n" + r2 + "\n",
			want: []string{
				"dead src:1#0: want a JSON object, got an array | [" + r1 + "]",
				"dead src:2#1: want a JSON object, got a number | 42",
				`dead src:3#2: want a JSON object, got a string | "s"`,
				"dead src:4#3: want a JSON object, got null | null",
				"dead src:5#4: want a JSON object, got a boolean | true",
				"rec b",
			}},
		{name: "jsonl two objects on a line", format: FormatJSONL, in: r1 + " " + r2 + "\n" + r3,
			want: []string{"dead src:1#0: malformed JSON: unexpected data after the object at column 43 | " + r1 + " " + r2, "rec c"}},
		{name: "jsonl garbage", format: FormatJSONL, in: "hello\n" + r1,
			want: []string{"dead src:1#0: malformed JSON: invalid character 'h' looking for beginning of value at column 1 | hello", "rec a"}},
		{name: "jsonl invalid record keeps every error", format: FormatJSONL, in: `{"ts": "never", "amount": -3}` + "\n" + r1,
			want: []string{`dead src:1#0: field "id": required field is missing; field "ts": want timestamp (RFC 3339 or epoch seconds/milliseconds), got "never"; field "amount": -3 is below the minimum 0 | {"ts": "never", "amount": -3}`, "rec a"}},
		{name: "jsonl line over the limit", format: FormatJSONL, opts: []ReaderOption{WithMaxLineBytes(60)},
			in:   r1 + "\n" + `{"id": "long", "ts": "2026-01-02T03:04:05Z", "note": "` + strings.Repeat("x", 40) + `"}` + "\n" + r2 + "\n",
			want: []string{"rec a", `dead src:2#1: line is longer than the limit of 60 bytes | {"id": "long", "ts": "2026-01-02T03:04:05Z", "note": "` + strings.Repeat("x", 40) + `"}`, "rec b"}},
		{name: "jsonl BOM", format: FormatJSONL, in: "\uFEFF" + r1 + "\n", want: []string{"rec a"}},
		{name: "jsonl empty", format: FormatJSONL, in: "", want: []string{}},
		// JSON documents.
		{name: "json object", format: FormatJSON, in: "{\n  \"id\": \"a\",\n  \"ts\": \"2026-01-02T03:04:05Z\"\n}\n", want: []string{"rec a"}},
		{name: "json array", format: FormatJSON, in: "[\n  " + r1 + ",\n  " + r2 + "\n]", want: []string{"rec a", "rec b"}},
		{name: "json empty array", format: FormatJSON, in: " [ ] ", want: []string{}},
		{name: "json objects and arrays one after the other", format: FormatJSON, in: r1 + "\n[" + r2 + "]\n" + r3,
			want: []string{"rec a", "rec b", "rec c"}},
		{name: "json array elements that are not records", format: FormatJSON, in: "[\n  " + r1 + ",\n  [1],\n  7,\n  {\"id\": \"x\"},\n  " + r2 + "\n]",
			want: []string{"rec a", "dead src:3#1: want a JSON object, got an array | [1]", "dead src:4#2: want a JSON object, got a number | 7",
				`dead src:5#3: field "ts": required field is missing | {"id": "x"}`, "rec b"}},
		{name: "json syntax error ends the document", format: FormatJSON, in: "[\n  " + r1 + ",\n  {\"id\": oops},\n  " + r2 + "\n]",
			want: []string{"rec a", "dead src:3#1: malformed JSON: invalid character 'o' looking for beginning of value | {\"id\": oops},\n  " + r2 + "\n]"}},
		{name: "json unclosed array", format: FormatJSON, in: "[" + r1 + ",\n" + r2,
			want: []string{"rec a", "rec b", "dead src:2#2: malformed JSON: unexpected end of input | "}},
		{name: "json stray bracket", format: FormatJSON, in: r1 + "\n]",
			want: []string{"rec a", "dead src:2#1: malformed JSON: invalid character ']' looking for beginning of value | ]"}},
		{name: "json BOM", format: FormatJSON, in: "\uFEFF[" + r1 + "]", want: []string{"rec a"}},
		// Auto.
		{name: "auto jsonl goes on after a bad line", format: FormatAuto, in: "\n " + r1 + "\n{bad\n" + r2 + "\n",
			want: []string{"rec a", "dead src:3#1: malformed JSON: invalid character 'b' looking for beginning of object key string at column 2 | {bad", "rec b"}},
		{name: "auto malformed first line is jsonl", format: FormatAuto, in: `{"id": "x", "ts": }` + "\n" + r1 + "\n",
			want: []string{`dead src:1#0: malformed JSON: invalid character '}' looking for beginning of value at column 19 | {"id": "x", "ts": }`, "rec a"}},
		{name: "auto pretty object is json", format: FormatAuto, in: "{\n  \"id\": \"a\",\n  \"ts\": 1767323045\n}\n{\n  \"id\": \"b\", \"ts\": 1767323045}",
			want: []string{"rec a", "rec b"}},
		{name: "auto array is json", format: FormatAuto, in: "  [" + r1 + "]", want: []string{"rec a"}},
		{name: "auto single line without newline", format: FormatAuto, in: r1, want: []string{"rec a"}},
		{name: "auto csv", format: FormatAuto, in: "id,ts\na,2026-01-02T03:04:05Z\n", want: []string{"rec a"}},
		{name: "auto csv with BOM and quoted header", format: FormatAuto, in: "\uFEFF\"id\",ts\r\na,1767323045\r\n", want: []string{"rec a"}},
		{name: "auto empty", format: FormatAuto, in: " \n\n", want: []string{}},
	}
	n := newNormalizer(t, parseTestSchema(t), Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tt.in), tt.format, "src", n, tt.opts...)
			g := got(readAll(t, r))
			if strings.Join(g, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(g, "\n  "), strings.Join(tt.want, "\n  "))
			}
			// After the end, Next keeps saying so.
			if _, _, err := r.Next(); err != io.EOF {
				t.Fatalf("Next after the end: %v, want io.EOF", err)
			}
		})
	}
}

func TestReaderRecordValues(t *testing.T) {
	n := newNormalizer(t, parseTestSchema(t), Options{})
	in := `{"id": " a ", "ts": 1767323045123, "type": "LOGIN", "amount": 12.50, "extra": {"n": 1}}`
	for _, f := range []Format{FormatJSONL, FormatJSON, FormatAuto} {
		r := NewReader(strings.NewReader(in), f, "src", n)
		rec, dl, err := r.Next()
		if err != nil || dl != nil {
			t.Fatalf("%s: %v %v", f, dl, err)
		}
		want := time.Date(2026, 1, 2, 3, 4, 5, 123e6, time.UTC)
		if rec.ID != "a" || rec.Type != "login" || !rec.Time.Equal(want) || rec.Fields["amount"] != 12.5 ||
			rec.Fields["ts"] != "2026-01-02T03:04:05.123Z" || rec.Fields["extra"].(map[string]any)["n"] != 1.0 {
			t.Fatalf("%s: got %+v", f, rec)
		}
		if p := r.Position(); p != (Position{Source: "src", Line: 1, Index: 0}) {
			t.Fatalf("%s: position %+v", f, p)
		}
	}
}

// TestReaderLongLines covers lines longer than the read buffer: under the
// limit they are assembled and decoded, over it they are skipped whole.
func TestReaderLongLines(t *testing.T) {
	n := newNormalizer(t, parseTestSchema(t), Options{})
	line := func(id string, size int) string {
		head := `{"id": "` + id + `", "ts": 1767323045, "note": "`
		return head + strings.Repeat("é", (size-len(head)-2)/2) + `"}`
	}
	ok, long := line("ok", 3*readBufferSize), line("long", 5*readBufferSize)
	in := ok + "\r\n" + long + "\n" + line("next", 100) + "\n" + long // the last one without a newline
	r := NewReader(strings.NewReader(in), FormatJSONL, "src", n, WithMaxLineBytes(4*readBufferSize))
	items := readAll(t, r)
	if len(items) != 4 {
		t.Fatalf("got %d items, want 4: %v", len(items), got(items))
	}
	if items[0].rec.ID != "ok" || len(items[0].rec.Fields["note"].(string)) < 2*readBufferSize {
		t.Fatalf("line 1: %v", got(items[:1]))
	}
	for _, i := range []int{1, 3} {
		d := items[i].dead
		if d == nil || d.Line != i+1 || d.Errors[0].Reason != "line is longer than the limit of 65536 bytes" {
			t.Fatalf("item %d: %v", i, got(items[i:i+1]))
		}
		if len(d.Raw) > MaxRawBytes || !strings.HasPrefix(d.Raw, `{"id": "long"`) || !strings.HasSuffix(d.Raw, "é") {
			t.Fatalf("item %d: raw of %d bytes, want at most %d, cut on a character: %q…", i, len(d.Raw), MaxRawBytes, d.Raw[:40])
		}
	}
	if items[2].rec.ID != "next" {
		t.Fatalf("line 3: %v", got(items[2:3]))
	}
}

// TestReaderAutoLongFirstLine checks detection when the first line does not
// fit the read buffer: JSON is chosen, and reads the JSONL stream as well.
func TestReaderAutoLongFirstLine(t *testing.T) {
	n := newNormalizer(t, parseTestSchema(t), Options{})
	first := `{"id": "a", "ts": 1767323045, "note": "` + strings.Repeat("n", 2*readBufferSize) + `"}`
	r := NewReader(strings.NewReader(first+"\n"+`{"id": "b", "ts": 1767323045}`+"\n"), FormatAuto, "src", n)
	if g := strings.Join(got(readAll(t, r)), ","); g != "rec a,rec b" || r.format != FormatJSON {
		t.Fatalf("got %s as %s", g, r.format)
	}
}

// TestReaderJSONValueLimit checks that a JSON document cannot make the
// Reader hold an endless value in memory.
func TestReaderJSONValueLimit(t *testing.T) {
	n := newNormalizer(t, parseTestSchema(t), Options{})
	ok := `{"id": "a", "ts": 1767323045, "note": "` + strings.Repeat("n", 900) + `"}`
	huge := `{"id": "b", "ts": 1767323045, "note": "` + strings.Repeat("n", 50*readBufferSize) + `"}`
	in := "[\n" + ok + ",\n" + huge + ",\n" + ok + "\n]"
	r := NewReader(strings.NewReader(in), FormatJSON, "src", n, WithMaxLineBytes(1000))
	items := readAll(t, r)
	if len(items) != 2 || items[0].rec.ID != "a" {
		t.Fatalf("got %v", got(items))
	}
	d := items[1].dead
	if d == nil || d.Line != 3 || d.Errors[0].Reason != "JSON value is longer than the limit of 1000 bytes" || !strings.HasPrefix(d.Raw, `{"id": "b"`) {
		t.Fatalf("got %v", got(items[1:]))
	}
}

// TestReaderIOError checks that a failing source is an error, not a dead
// letter, and that it sticks.
func TestReaderIOError(t *testing.T) {
	n := newNormalizer(t, parseTestSchema(t), Options{})
	boom := errors.New("disk on fire")
	for _, f := range []Format{FormatJSONL, FormatJSON, FormatCSV, FormatAuto} {
		t.Run(string(f), func(t *testing.T) {
			head := `{"id": "a", "ts": 1767323045}` + "\n"
			if f == FormatCSV {
				head = "id,ts\na,1767323045\n"
			}
			src := io.MultiReader(strings.NewReader(head), iotest.ErrReader(boom))
			r := NewReader(src, f, "src", n)
			rec, dl, err := r.Next()
			if err != nil || dl != nil || rec.ID != "a" {
				t.Fatalf("first: %+v %v %v", rec, dl, err)
			}
			for range 2 {
				if _, dl, err := r.Next(); !errors.Is(err, boom) || dl != nil {
					t.Fatalf("Next = %v, %v; want the read error", dl, err)
				}
			}
		})
	}
}

// TestReaderAutoDoesNotWait checks that detecting the format of a live
// stream needs only its first line.
func TestReaderAutoDoesNotWait(t *testing.T) {
	n := newNormalizer(t, parseTestSchema(t), Options{})
	for _, first := range []string{`{"id": "a", "ts": 1767323045}` + "\n", "id,ts\na,1767323045\n"} {
		pr, pw := io.Pipe()
		r := NewReader(pr, FormatAuto, "stdin", n)
		go func() { _, _ = pw.Write([]byte(first)) }() // and nothing more, until the record is out
		done := make(chan Record)
		go func() {
			rec, _, _ := r.Next()
			done <- rec
		}()
		select {
		case rec := <-done:
			if rec.ID != "a" {
				t.Fatalf("got %+v", rec)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Next is still waiting for more input after %q", first)
		}
		_ = pw.Close()
	}
}

func TestReaderMisuse(t *testing.T) {
	n := newNormalizer(t, parseTestSchema(t), Options{})
	if _, _, err := NewReader(strings.NewReader("{}"), "xml", "src", n).Next(); err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Errorf("unknown format: %v", err)
	}
	if _, _, err := NewReader(strings.NewReader("{}"), FormatJSONL, "src", nil).Next(); err == nil {
		t.Error("nil Normalizer: no error")
	}
}
