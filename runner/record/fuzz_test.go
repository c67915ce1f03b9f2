package record

import (
	"bytes"
	"io"
	"os"
	"testing"
)

// FuzzReader feeds arbitrary bytes to a JSONL or CSV Reader. Next must never
// panic, must give exactly one of a record, a dead letter or an error, must
// number input records 0, 1, 2, ... on lines in order, and must give one
// record or dead letter per input record: per non-blank line for JSONL, per
// non-empty line after the header for CSV without quotes.
func FuzzReader(f *testing.F) {
	for _, seed := range []string{
		`{"id": "a", "ts": 1767323045, "type": "payment", "amount": "1.5"}` + "\n{bad\n[1]\n\n" + `{"id": "b"}`,
		"\uFEFF" + `{"transaction_id": "x", "timestamp": "2026-01-02T03:04:05+02:00", "type": "LOGIN", "success": "1"}` + "\r\n",
		"id,ts,type,amount\r\na,1767323045,payment,1\r\nb,2,\"pay\nment\",\"1\"\"\"\nc,,x\n",
		"id,ts,type\n\"a\"b,1,payment\n\"unclosed,1,payment\nd,1,payment",
		"id,id\n1,2\n", ",\n", "",
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	for _, file := range []string{"payments.jsonl", "payments.csv"} {
		if data, err := os.ReadFile("../../fixtures/records/" + file); err == nil {
			f.Add(data, file == "payments.csv")
		}
	}
	n := newNormalizer(f, shippedSchema(f), Options{})
	const maxLine = 256
	f.Fuzz(func(t *testing.T, data []byte, csv bool) {
		format := FormatJSONL
		if csv {
			format = FormatCSV
		}
		r := NewReader(bytes.NewReader(data), format, "fuzz", n, WithMaxLineBytes(maxLine))
		lines := physicalLines(data)
		var (
			items, lastLine int
			headerFailed    bool
		)
		for calls := 0; ; calls++ {
			if calls > len(lines)+1 {
				t.Fatalf("more than %d results from %d lines", calls, len(lines))
			}
			rec, dl, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				// Reading from memory, only a CSV header can stop the stream.
				if !csv || items > 0 {
					t.Fatalf("error %v after %d records", err, items)
				}
				if !bytes.ContainsRune(data, '"') && csvHeaderOK(lines, maxLine) {
					t.Fatalf("error %v for a header that is fine", err)
				}
				headerFailed = true
				break
			}
			if (dl == nil) == (rec.Fields == nil) {
				t.Fatalf("record %+v and dead letter %+v: want exactly one", rec, dl)
			}
			p := r.Position()
			if p.Index != items || p.Line < lastLine || p.Line < 1 || p.Line > len(lines) {
				t.Fatalf("item %d at %+v after line %d, with %d lines", items, p, lastLine, len(lines))
			}
			if dl != nil && (dl.Position != p || len(dl.Errors) == 0 || len(dl.Raw) > MaxRawBytes) {
				t.Fatalf("bad dead letter %+v at %+v", dl, p)
			}
			lastLine = p.Line
			items++
		}
		want := -1
		switch {
		case headerFailed:
			want = 0
		case !csv:
			want = 0
			for _, l := range lines {
				if len(l) > maxLine || len(bytes.TrimLeft(l, " \t\r\n")) > 0 {
					want++
				}
			}
		case !bytes.ContainsRune(data, '"') && csvHeaderOK(lines, maxLine):
			want = 0
			for _, l := range lines {
				if len(l) > 0 {
					want++
				}
			}
			want = max(want-1, 0) // the header
		}
		if want >= 0 && items != want {
			t.Fatalf("%d records and dead letters from %d input records", items, want)
		}
	})
}

// physicalLines splits data as the Reader does: a leading BOM dropped, lines
// ended by "\n" or "\r\n", a last line without an ending kept.
func physicalLines(data []byte) [][]byte {
	data = bytes.TrimPrefix(data, []byte(byteOrderMark))
	var lines [][]byte
	for len(data) > 0 {
		l, rest, _ := bytes.Cut(data, []byte{'\n'})
		l = bytes.TrimSuffix(l, []byte{'\r'})
		lines = append(lines, l)
		data = rest
	}
	return lines
}

// csvHeaderOK tells, for CSV without quotes, whether the first non-empty
// line is a usable header: short enough, no empty or repeated names.
func csvHeaderOK(lines [][]byte, maxLine int) bool {
	for _, l := range lines {
		if len(l) == 0 {
			continue
		}
		if len(l) > maxLine {
			return false
		}
		seen := map[string]bool{}
		for _, name := range bytes.Split(l, []byte{','}) {
			name = bytes.TrimSpace(bytes.TrimPrefix(name, []byte(byteOrderMark)))
			if len(name) == 0 || seen[string(name)] {
				return false
			}
			seen[string(name)] = true
		}
		return true
	}
	return true // no header at all: just the end
}

// FuzzReaderDocument does the same for JSON documents and detection, where
// the count of input records is not known from the lines alone.
func FuzzReaderDocument(f *testing.F) {
	for _, seed := range []string{
		"[\n" + `{"id": "a", "ts": 1767323045, "type": "payment"}` + ",\n 7, [1],\n" + `{"id": "b"}` + "\n]\n{}",
		"{\n  \"id\": \"a\",\n  \"ts\": 1,\n  \"type\": \"login\"\n}\n[]]", "[{\"id\": oops}]", "  [", "{\"id\":1}\n{", "id,ts\n",
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	n := newNormalizer(f, shippedSchema(f), Options{})
	f.Fuzz(func(t *testing.T, data []byte, auto bool) {
		format := FormatJSON
		if auto {
			format = FormatAuto
		}
		r := NewReader(bytes.NewReader(data), format, "fuzz", n, WithMaxLineBytes(256))
		lines := max(len(physicalLines(data)), 1)
		lastLine := 0
		for items := 0; ; items++ {
			if items > len(data)+1 {
				t.Fatalf("more than %d results from %d bytes", items, len(data))
			}
			rec, dl, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !auto || items > 0 { // detection may pick CSV, whose header may fail
					t.Fatalf("error %v after %d records", err, items)
				}
				return
			}
			if (dl == nil) == (rec.Fields == nil) {
				t.Fatalf("record %+v and dead letter %+v: want exactly one", rec, dl)
			}
			p := r.Position()
			if p.Index != items || p.Line < lastLine || p.Line < 1 || p.Line > lines {
				t.Fatalf("item %d at %+v after line %d, with %d lines", items, p, lastLine, lines)
			}
			lastLine = p.Line
		}
	})
}
