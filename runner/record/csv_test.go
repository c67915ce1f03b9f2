package record

import (
	"reflect"
	"strings"
	"testing"
)

func TestReaderCSV(t *testing.T) {
	const head = "id,ts,amount\n"
	tests := []struct {
		name string
		opts Options
		in   string
		want []string
	}{
		{name: "rows", in: head + "a,2026-01-02T03:04:05Z,1.5\nb,1767323045,2\n", want: []string{"rec a", "rec b"}},
		{name: "CRLF and a last row without line ending", in: "id,ts,amount\r\na,1767323045,1\r\nb,1767323045,2", want: []string{"rec a", "rec b"}},
		{name: "BOM", in: "\uFEFF" + head + "a,1767323045,1\n", want: []string{"rec a"}},
		{name: "header names trimmed", in: " id , ts ,amount\na,1767323045,1\n", want: []string{"rec a"}},
		{name: "empty lines skipped", in: "\n" + head + "\na,1767323045,1\n\n\nb,1767323045,2\n", want: []string{"rec a", "rec b"}},
		{name: "header only", in: head, want: []string{}},
		{name: "empty input", in: "", want: []string{}},
		{name: "wrong number of cells", in: head + "a,1767323045,1\nb,1767323045\nc,1767323045,3,extra\nd,1767323045,4\n",
			want: []string{"rec a", "dead src:3#1: row has 2 cells, the header has 3 | b,1767323045",
				"dead src:4#2: row has 4 cells, the header has 3 | c,1767323045,3,extra", "rec d"}},
		{name: "invalid cells", in: head + "a,soon,-1\nb,1767323045,2\n",
			want: []string{`dead src:2#0: field "ts": want timestamp (RFC 3339 or epoch seconds/milliseconds), got "soon"; field "amount": -1 is below the minimum 0 | a,soon,-1`, "rec b"}},
		{name: "empty cell is absent", in: head + "a,1767323045,\n,1767323045,1\n",
			want: []string{"rec a", `dead src:3#1: field "id": required field is missing | ,1767323045,1`}},
		{name: "quoted cells", in: head + "\"a,1\",\"1767323045\",\"2\"\n\"say \"\"hi\"\"\",1767323045,\"\"\n",
			want: []string{"rec a,1", `rec say "hi"`}},
		{name: "line break in a quoted cell", in: "id,note,ts\n\"a\",\"two\r\nlines\",1767323045\nb,,1767323045\n\"c\",\"\",1767323045\n",
			want: []string{"rec a", "rec b", "rec c"}},
		{name: "bare quote", in: head + "a\"b,1767323045,1\nc,1767323045,1\n",
			want: []string{`dead src:2#0: malformed CSV: cell 1: bare " in an unquoted cell (quote the cell and double the ") | a"b,1767323045,1`, "rec c"}},
		{name: "text after the closing quote", in: head + "\"a\"b,1767323045,1\nc,1767323045,1\n",
			want: []string{`dead src:2#0: malformed CSV: cell 1: 'b' after the closing quote | "a"b,1767323045,1`, "rec c"}},
		{name: "quote never closed", in: head + "a,1767323045,1\nb,\"1767323045,1\nc,1,1\n",
			want: []string{"rec a", "dead src:3#1: malformed CSV: cell 2: quote opened and never closed | b,\"1767323045,1\nc,1,1"}},
		{name: "unknown columns stay strings", in: "id,ts,channel_code,score\na,1767323045,007,0.5\n", want: []string{"rec a"}},
		{name: "rename", opts: Options{Rename: map[string]string{"TX_ID": "id", "WHEN": "ts"}}, in: "TX_ID,WHEN\na,1767323045\n", want: []string{"rec a"}},
		{name: "two columns for one field", in: "id,event_id,ts\na,,1767323045\n,b,1767323045\nc,d,1767323045\n",
			want: []string{"rec a", "rec b", `dead src:4#2: field "id": given more than once, as "id" and "event_id" | c,d,1767323045`}},
		{name: "unknown columns rejected", opts: Options{Unknown: UnknownReject}, in: "id,ts,x\na,1767323045,\nb,1767323045,1\n",
			want: []string{"rec a", `dead src:3#1: field "x": not a field of the schema (unknown_fields: reject) | b,1767323045,1`}},
	}
	s := parseTestSchema(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNormalizer(t, s, tt.opts)
			g := got(readAll(t, NewReader(strings.NewReader(tt.in), FormatCSV, "src", n)))
			if strings.Join(g, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(g, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestReaderCSVValues(t *testing.T) {
	n := newNormalizer(t, parseTestSchema(t), Options{Unknown: UnknownKeep})
	in := "id,ts,amount,count,ok,note,code,channel_code\r\n" +
		"a,2026-01-02 03:04:05,\"1,5\",3,1,\"multi\nline\",eur,007\r\n" +
		"b,1767323045,12.50,4,0,,usd,\r\n"
	r := NewReader(strings.NewReader(in), FormatCSV, "src", n)
	items := readAll(t, r)
	if len(items) != 2 {
		t.Fatalf("got %v", got(items))
	}
	if p := r.Position(); p.Line != 4 || p.Index != 1 {
		t.Fatalf("row 2 at %+v, want line 4 (row 1 spans lines 2 and 3), index 1", p)
	}
	if d := items[0].dead; d == nil || d.Line != 2 || d.Errors[0].Reason != `want number, got "1,5"` {
		t.Fatalf("row 1: %v", got(items[:1]))
	}
	want := map[string]any{"id": "b", "ts": "2026-01-02T03:04:05Z", "type": "payment", "amount": 12.5, "count": 4.0,
		"ok": false, "code": "USD"}
	if rec := items[1].rec; !reflect.DeepEqual(rec.Fields, want) {
		t.Fatalf("row 2:\n got %#v\nwant %#v", rec.Fields, want)
	}
}

func TestReaderCSVHeaderErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty column name", "id,,ts\n", "src:1: CSV header: column 2 has no name"},
		{"repeated column", "id,ts,id\n", `src:1: CSV header: column 3 repeats the name "id" of column 1`},
		{"malformed", "\n\nid,\"ts\"x\n", `src:3: CSV header: cell 2: 'x' after the closing quote`},
		{"line too long", "id," + strings.Repeat("x", 100) + "\n", "src:1: CSV header: line is longer than the limit of 64 bytes"},
	}
	n := newNormalizer(t, parseTestSchema(t), Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tt.in+"a,1767323045\n"), FormatCSV, "src", n, WithMaxLineBytes(64))
			for range 2 { // the error sticks
				if _, dl, err := r.Next(); err == nil || err.Error() != tt.want || dl != nil {
					t.Fatalf("Next = %v, %v; want error %q", dl, err, tt.want)
				}
			}
		})
	}
}

func TestReaderCSVLongRecords(t *testing.T) {
	n := newNormalizer(t, parseTestSchema(t), Options{})
	in := "id,ts,note\n" +
		"a,1767323045," + strings.Repeat("x", 80) + "\n" + // one long line
		"b,1767323045,\"" + strings.Repeat("y\n", 50) + "\"\n" + // a long quoted cell over many lines
		"c,1767323045,short\n"
	items := readAll(t, NewReader(strings.NewReader(in), FormatCSV, "src", n, WithMaxLineBytes(64)))
	g := got(items)
	if len(g) != 3 || !strings.HasPrefix(g[0], "dead src:2#0: malformed CSV: line is longer than the limit of 64 bytes") ||
		!strings.HasPrefix(g[1], "dead src:3#1: malformed CSV: record is longer than the limit of 64 bytes") || g[2] != "rec c" {
		t.Fatalf("got\n  %s", strings.Join(g, "\n  "))
	}
}
