package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Format is how a stream of records is encoded.
type Format string

const (
	// FormatAuto looks at the first significant byte (after an optional
	// UTF-8 BOM and white space): "[" is JSON; "{" is JSON when its line is
	// only the start of a JSON value (a pretty-printed object), JSONL
	// otherwise (a complete object, or a malformed line); anything else is
	// CSV.
	FormatAuto Format = "auto"
	// FormatJSON is a whole JSON document: one object, an array of objects,
	// or several of those one after the other (as jq prints them). It is read
	// as a stream, one value at a time. A syntax error, or a value over the
	// size limit, ends it with a dead letter: nothing after it can be trusted.
	FormatJSON Format = "json"
	// FormatJSONL is one JSON object per line (also called NDJSON). A bad
	// line is a dead letter and reading goes on with the next one.
	FormatJSONL Format = "jsonl"
	// FormatCSV is RFC 4180 CSV with a header row naming the fields.
	FormatCSV Format = "csv"
)

// ParseFormat accepts auto, json, jsonl (or ndjson) and csv, in any case;
// "" means auto.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case "":
		return FormatAuto, nil
	case FormatAuto, FormatJSON, FormatJSONL, FormatCSV:
		return f, nil
	case "ndjson":
		return FormatJSONL, nil
	}
	return "", fmt.Errorf("format %q: want auto, json, jsonl or csv", s)
}

// FormatFor guesses a file's format from its extension: .jsonl and .ndjson
// are JSONL, .json is JSON, .csv is CSV; anything else is auto.
func FormatFor(path string) Format {
	path = strings.TrimSuffix(strings.ToLower(path), ".gz") // payments.csv.gz is CSV
	switch filepath.Ext(path) {
	case ".jsonl", ".ndjson":
		return FormatJSONL
	case ".json":
		return FormatJSON
	case ".csv":
		return FormatCSV
	}
	return FormatAuto
}

// DefaultMaxLineBytes bounds a JSONL line, a CSV record or a value of a JSON
// document, unless WithMaxLineBytes says otherwise. A longer one is a dead
// letter, and never held in memory whole.
const DefaultMaxLineBytes = 1 << 20

// readBufferSize is the read buffer of a Reader. Longer lines are assembled
// in a separate buffer, so that a Reader made per HTTP request stays small.
const readBufferSize = 16 << 10

// ReaderOption adjusts a Reader.
type ReaderOption func(*Reader)

// WithMaxLineBytes bounds the length of a JSONL line or CSV record (line
// ending excluded) and of a JSON document's values (default
// DefaultMaxLineBytes; n <= 0 keeps the default).
func WithMaxLineBytes(n int) ReaderOption {
	return func(r *Reader) {
		if n > 0 {
			r.maxLine = n
		}
	}
}

// Reader yields records one at a time from a stream (file, stdin, HTTP body).
// It is not safe for concurrent use; one goroutine reads, and hands records on.
type Reader struct {
	source   string
	norm     *Normalizer
	format   Format
	maxLine  int
	in       *bufio.Reader
	lines    lineReader
	started  bool
	err      error // sticky: io.EOF or the failure that stopped reading
	index    int
	pos      Position
	sizeHint int      // for the next record's map
	keys     keyCache // field names seen, shared by the records' maps
	json     *jsonStream
	csv      csvStream
}

// NewReader reads records in format f from r, normalised by n. source names
// the stream in positions and dead letters ("file:payments.jsonl", "http").
// Nothing is read until the first call to Next.
func NewReader(r io.Reader, f Format, source string, n *Normalizer, opts ...ReaderOption) *Reader {
	rd := &Reader{source: source, norm: n, format: f, maxLine: DefaultMaxLineBytes}
	for _, o := range opts {
		o(rd)
	}
	size := readBufferSize
	if l, ok := r.(interface{ Len() int }); ok { // a request body in memory: no bigger than it
		size = min(size, l.Len()+1)
	}
	rd.in = bufio.NewReaderSize(r, size)
	rd.lines = lineReader{br: rd.in, max: rd.maxLine}
	return rd
}

// Next returns the next record, or a dead letter for an input record that
// could not be decoded or is invalid (exactly one of the two), and io.EOF at
// the end. Any other error means the stream cannot be read on: an I/O
// failure of the underlying reader, or a CSV header that cannot be used.
// After an error every call returns it again.
func (r *Reader) Next() (Record, *DeadLetter, error) {
	if r.err != nil {
		return Record{}, nil, r.err
	}
	if !r.started {
		r.started = true
		if err := r.start(); err != nil {
			r.err = err
			return Record{}, nil, err
		}
	}
	var (
		m   map[string]any
		raw []byte
		dl  *DeadLetter
		err error
	)
	switch r.format {
	case FormatJSONL:
		m, raw, dl, err = r.nextJSONL()
	case FormatJSON:
		m, raw, dl, err = r.nextJSON()
	case FormatCSV:
		m, raw, dl, err = r.nextCSV()
	}
	if err != nil {
		r.err = err
		return Record{}, nil, err
	}
	if dl != nil {
		return Record{}, dl, nil
	}
	r.sizeHint = len(m) + len(r.norm.fills) // records in one stream tend to look alike
	rec, errs := r.norm.Normalize(m)
	if errs != nil {
		return Record{}, &DeadLetter{Position: r.pos, Errors: errs, Raw: rawText(raw)}, nil
	}
	return rec, nil, nil
}

// Position is where the record or dead letter last returned by Next came
// from.
func (r *Reader) Position() Position { return r.pos }

// start strips a UTF-8 byte order mark and settles the format.
func (r *Reader) start() error {
	if r.norm == nil {
		return errors.New("record: NewReader needs a Normalizer")
	}
	switch r.format {
	case FormatAuto, FormatJSON, FormatJSONL, FormatCSV:
	default:
		return fmt.Errorf("record: unknown format %q", r.format)
	}
	if b, err := r.in.Peek(1); err == nil && b[0] == 0xEF {
		if b, _ := r.in.Peek(3); string(b) == byteOrderMark {
			_, _ = r.in.Discard(3)
		}
	} else if err != nil && err != io.EOF {
		return err
	}
	if r.format == FormatAuto {
		f, err := r.detect()
		if err != nil {
			return err
		}
		r.format = f
	}
	if r.format == FormatJSON {
		lc := &lineCounter{r: r.in, limit: int64(r.maxLine)}
		dec := json.NewDecoder(lc)
		dec.UseNumber()
		r.json = &jsonStream{dec: dec, lines: lc}
	}
	return nil
}

// byteOrderMark is the UTF-8 BOM that Windows tools put before CSV and JSON.
const byteOrderMark = "\uFEFF"

// detect implements FormatAuto. It looks only at what is already buffered,
// waiting for more input only while it cannot decide, so that a live stream
// whose first line is short is not held up.
func (r *Reader) detect() (Format, error) {
	want := 1
	for {
		_, err := r.in.Peek(want)
		if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
			return "", err
		}
		final := err != nil // no more input to wait for, or no room for it
		b, _ := r.in.Peek(r.in.Buffered())
		i := 0
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i == len(b) {
			i = -1
		}
		switch {
		case i < 0:
			if final {
				return FormatJSONL, nil // empty, or only blank lines
			}
		case b[i] == '[':
			return FormatJSON, nil
		case b[i] != '{':
			return FormatCSV, nil
		default:
			if j := bytes.IndexByte(b[i:], '\n'); j >= 0 {
				return objectLineFormat(b[i : i+j]), nil
			}
			if err == io.EOF {
				return FormatJSONL, nil // a single line: both formats read it alike
			}
			if final {
				// A first line longer than the buffer. Unless it is broken
				// already, read JSON: that reads a JSONL stream too.
				return objectLineFormat(b[i:]), nil
			}
		}
		want = len(b) + 1
	}
}

// objectLineFormat tells from the first line of an input starting with "{"
// whether it is JSONL or a pretty-printed JSON document: a line that is a
// complete value is JSONL, one that is the start of a value is JSON. A line
// that is already malformed is taken for a bad JSONL line, so that it costs
// one dead letter and not the whole stream.
func objectLineFormat(line []byte) Format {
	err := json.NewDecoder(bytes.NewReader(line)).Decode(new(json.RawMessage))
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return FormatJSON
	}
	return FormatJSONL
}

// begin starts the next input record at line.
func (r *Reader) begin(line int) {
	r.pos = Position{Source: r.source, Line: line, Index: r.index}
	r.index++
}

// fail makes a dead letter for the current input record.
func (r *Reader) fail(raw []byte, reason string) *DeadLetter {
	return &DeadLetter{Position: r.pos, Errors: []FieldError{{Reason: reason}}, Raw: rawText(raw)}
}

func (r *Reader) nextJSONL() (map[string]any, []byte, *DeadLetter, error) {
	for {
		line, tooLong, err := r.lines.next()
		if err != nil {
			return nil, nil, nil, err
		}
		if tooLong {
			r.begin(r.lines.line)
			return nil, nil, r.fail(line, fmt.Sprintf("line is longer than the limit of %d bytes", r.maxLine)), nil
		}
		if len(bytes.TrimLeft(line, " \t\r\n")) == 0 {
			continue
		}
		r.begin(r.lines.line)
		m, reason := decodeObject(line, true, r.sizeHint, &r.keys)
		if reason != "" {
			return nil, nil, r.fail(line, reason), nil
		}
		return m, line, nil, nil
	}
}

// decodeObject decodes one JSON object, keeping numbers as json.Number.
// Problems come back as a reason; in a line (JSONL), syntax errors give the
// column.
func decodeObject(b []byte, inLine bool, sizeHint int, keys *keyCache) (map[string]any, string) {
	start := len(b) - len(bytes.TrimLeft(b, " \t\r\n"))
	if start < len(b) && b[start] != '{' {
		if kind := jsonKind(b[start]); kind != "" {
			return nil, "want a JSON object, got " + kind
		}
	}
	if m, ok := decodeFast(b, sizeHint, keys); ok {
		return m, ""
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	m := make(map[string]any, sizeHint) // sized once, not grown key by key
	if err := dec.Decode(&m); err != nil {
		return nil, "malformed JSON: " + jsonError(err, inLine)
	}
	rest := b[dec.InputOffset():]
	if trimmed := bytes.TrimLeft(rest, " \t\r\n"); len(trimmed) > 0 {
		col := len(b) - len(trimmed) + 1
		return nil, fmt.Sprintf("malformed JSON: unexpected data after the object at column %d", col)
	}
	return m, ""
}

// jsonKind names the kind of JSON value that starts with c, or "" if none does.
func jsonKind(c byte) string {
	switch {
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == '-' || c >= '0' && c <= '9':
		return "a number"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	}
	return ""
}

// jsonError words a decoding error. The offset of a syntax error is exact
// only for a decoder that read nothing but the one value, so it is given as
// a column for JSONL lines only; JSON documents give the line instead.
func jsonError(err error, inLine bool) string {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se) && inLine:
		return fmt.Sprintf("%s at column %d", se.Error(), se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "unexpected end of input"
	}
	return err.Error()
}

// jsonStream is the state of a FormatJSON Reader.
type jsonStream struct {
	dec     *json.Decoder
	lines   *lineCounter
	inArray bool
	done    bool
}

func (r *Reader) nextJSON() (map[string]any, []byte, *DeadLetter, error) {
	js := r.json
	for {
		if js.done {
			return nil, nil, nil, io.EOF
		}
		js.lines.mark = js.dec.InputOffset()
		if !js.dec.More() {
			_, err := js.dec.Token() // "]" of an array, the end of input, or an error
			switch {
			case err == nil && js.inArray:
				js.inArray = false
				continue
			case err == io.EOF && !js.inArray:
				return nil, nil, nil, io.EOF
			case err == nil:
				err = errors.New("unexpected end of value")
			}
			dl, err := r.jsonFailure(err)
			return nil, nil, dl, err
		}
		if !js.inArray && firstByte(js.dec.Buffered()) == '[' {
			if _, err := js.dec.Token(); err != nil {
				dl, err := r.jsonFailure(err)
				return nil, nil, dl, err
			}
			js.inArray = true
			continue
		}
		var raw json.RawMessage
		if err := js.dec.Decode(&raw); err != nil {
			dl, err := r.jsonFailure(err)
			return nil, nil, dl, err
		}
		r.begin(js.lines.lineAt(js.dec.InputOffset() - int64(len(raw))))
		m, reason := decodeObject(raw, false, r.sizeHint, &r.keys)
		if reason != "" {
			return nil, nil, r.fail(raw, reason), nil
		}
		return m, raw, nil, nil
	}
}

// jsonFailure ends a JSON document at a syntax error with a dead letter
// holding the input from the failing value on. An error of the underlying
// reader is returned as such.
func (r *Reader) jsonFailure(err error) (*DeadLetter, error) {
	js := r.json
	if js.lines.err != nil {
		return nil, js.lines.err
	}
	js.done = true
	reason := "malformed JSON: " + jsonError(err, false)
	if errors.Is(err, errValueTooLong) {
		reason = fmt.Sprintf("JSON value is longer than the limit of %d bytes", r.maxLine)
	}
	rest, _ := io.ReadAll(io.LimitReader(js.dec.Buffered(), MaxRawBytes))
	skip := len(rest) - len(bytes.TrimLeft(rest, " \t\r\n,"))
	at := js.dec.InputOffset() + int64(skip)
	if skip == len(rest) && at > 0 {
		at-- // the input ended: blame its last line, not the empty one after it
	}
	r.begin(js.lines.lineAt(at))
	return r.fail(rest[skip:], reason), nil
}

func firstByte(rd io.Reader) byte {
	var b [1]byte
	if n, _ := rd.Read(b[:]); n == 1 {
		return b[0]
	}
	return 0
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// rawText keeps at most MaxRawBytes of a record for its dead letter, cut on
// a UTF-8 character boundary.
func rawText(b []byte) string {
	if len(b) > MaxRawBytes {
		cut := MaxRawBytes
		for cut > 0 && !utf8.RuneStart(b[cut]) {
			cut--
		}
		b = b[:cut]
	}
	return string(b)
}

// lineReader reads lines of at most max bytes, line ending excluded, and
// numbers them. A longer line is skipped to its end, not held in memory.
type lineReader struct {
	br   *bufio.Reader
	max  int
	line int    // 1-based number of the line last returned
	long []byte // assembles lines longer than the read buffer
}

// next returns the next line without its line ending ("\n" or "\r\n"); it
// is valid until the following call. tooLong reports a line over the limit,
// of which b then holds the first MaxRawBytes bytes. A last line without a
// line ending is returned like any other, then io.EOF.
func (lr *lineReader) next() (b []byte, tooLong bool, err error) {
	b, err = lr.br.ReadSlice('\n')
	switch {
	case err == nil || err == io.EOF && len(b) > 0:
		lr.line++
		b = trimEOL(b)
		if len(b) > lr.max {
			return b[:min(len(b), MaxRawBytes)], true, nil
		}
		return b, false, nil
	case err != bufio.ErrBufferFull:
		return nil, false, err
	}
	lr.line++
	lr.long = append(lr.long[:0], b...)
	for {
		b, err = lr.br.ReadSlice('\n')
		if !tooLong && len(lr.long)+len(b) > lr.max+2 { // +2: room for "\r\n"
			tooLong = true
			lr.long = lr.long[:min(len(lr.long), MaxRawBytes)]
		}
		if !tooLong {
			lr.long = append(lr.long, b...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil && err != io.EOF {
			return nil, false, err
		}
		break
	}
	if tooLong {
		return lr.long, true, nil
	}
	b = trimEOL(lr.long)
	if len(b) > lr.max {
		return b[:min(len(b), MaxRawBytes)], true, nil
	}
	return b, false, nil
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte{'\n'})
	return bytes.TrimSuffix(b, []byte{'\r'})
}

// lineCounter counts the lines of what a json.Decoder reads through it, so
// that a value's offset in the stream can be turned into its line. It also
// bounds the size of a value: the decoder asks for more input only while the
// value it decodes is incomplete, so everything read past the value's start
// (mark) belongs to it.
type lineCounter struct {
	r     io.Reader
	off   int64   // bytes read so far
	nl    []int64 // offsets of newlines read but not yet passed by lineAt
	line  int     // newlines already passed by lineAt
	err   error   // a read error other than io.EOF
	mark  int64   // where the value being decoded starts (white space included)
	limit int64   // the most bytes a value may take
}

var errValueTooLong = errors.New("JSON value too long")

func (c *lineCounter) Read(p []byte) (int, error) {
	if c.off-c.mark > c.limit {
		return 0, errValueTooLong
	}
	n, err := c.r.Read(p)
	for i := 0; i < n; {
		j := bytes.IndexByte(p[i:n], '\n')
		if j < 0 {
			break
		}
		c.nl = append(c.nl, c.off+int64(i+j))
		i += j + 1
	}
	c.off += int64(n)
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}

// lineAt returns the 1-based line of the byte at offset off. Offsets must
// not decrease from one call to the next.
func (c *lineCounter) lineAt(off int64) int {
	i := 0
	for i < len(c.nl) && c.nl[i] < off {
		i++
	}
	c.line += i
	c.nl = c.nl[i:]
	return c.line + 1
}
