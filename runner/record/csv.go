package record

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// CSV is read by a small RFC 4180 scanner of our own rather than
// encoding/csv, which gives neither a record's raw bytes (for its dead
// letter) nor a bound on its size: here both come from the lineReader that
// JSONL uses too. Quoted cells may hold commas, doubled quotes and line
// breaks; a bare quote in an unquoted cell is an error, as in encoding/csv
// without LazyQuotes. Empty lines are skipped.

// csvStream is the state of a FormatCSV Reader.
type csvStream struct {
	keys     []string // column → key in the record map ("" = column dropped); nil until the header is read
	cols     int
	sizeHint int    // map size for a row: columns plus defaults that may be filled in
	ends     []int  // end offset in buf of each cell of the current record
	buf      []byte // the cells of the current record, unquoted, back to back
	raw      []byte // the lines of a record that spans several
}

func (r *Reader) nextCSV() (map[string]any, []byte, *DeadLetter, error) {
	c := &r.csv
	if c.keys == nil {
		if err := r.readHeader(); err != nil {
			return nil, nil, nil, err
		}
	}
	line, raw, problem, err := r.readCSV()
	if err != nil {
		return nil, nil, nil, err
	}
	r.begin(line)
	if problem != "" {
		return nil, nil, r.fail(raw, "malformed CSV: "+problem), nil
	}
	if len(c.ends) != c.cols {
		return nil, nil, r.fail(raw, fmt.Sprintf("row has %d cells, the header has %d", len(c.ends), c.cols)), nil
	}
	s := string(c.buf) // one allocation holds every cell of the row
	m := make(map[string]any, c.sizeHint)
	start := 0
	for i, end := range c.ends {
		if end > start && c.keys[i] != "" { // an empty cell is an absent field
			m[c.keys[i]] = s[start:end]
		}
		start = end
	}
	return m, raw, nil, nil
}

// readHeader reads the header row. Column names are trimmed, and renamed to
// their field once here rather than in every row, unless two columns name
// the same field (Normalize then reports the rows that fill both).
func (r *Reader) readHeader() error {
	c := &r.csv
	line, _, problem, err := r.readCSV()
	if err != nil {
		return err
	}
	where := fmt.Sprintf("%s:%d: CSV header", r.source, line)
	if problem != "" {
		return fmt.Errorf("%s: %s", where, problem)
	}
	names := make([]string, len(c.ends))
	seen := make(map[string]int, len(c.ends))
	start := 0
	for i, end := range c.ends {
		name := strings.TrimSpace(strings.TrimPrefix(string(c.buf[start:end]), byteOrderMark))
		start = end
		if name == "" {
			return fmt.Errorf("%s: column %d has no name", where, i+1)
		}
		if j, dup := seen[name]; dup {
			return fmt.Errorf("%s: column %d repeats the name %q of column %d", where, i+1, name, j+1)
		}
		seen[name] = i
		names[i] = name
	}
	targets := make(map[string]int, len(names))
	for _, name := range names {
		if field, known := r.norm.resolve(name); known {
			targets[field]++
		}
	}
	c.keys = make([]string, len(names))
	for i, name := range names {
		field, known := r.norm.resolve(name)
		switch {
		case known && targets[field] == 1:
			c.keys[i] = field
		case !known && r.norm.unknown == UnknownDrop:
			c.keys[i] = ""
		default:
			c.keys[i] = name
		}
	}
	c.cols = len(names)
	c.sizeHint = c.cols + len(r.norm.fills)
	return nil
}

// readCSV reads the next non-empty CSV record into r.csv.buf and ends. It
// returns the line the record starts on, its raw bytes (valid until the next
// read) and what is wrong with it, if anything.
func (r *Reader) readCSV() (start int, raw []byte, problem string, err error) {
	c := &r.csv
	var line []byte
	for {
		var tooLong bool
		line, tooLong, err = r.lines.next()
		if err != nil {
			return 0, nil, "", err
		}
		if tooLong {
			return r.lines.line, line, fmt.Sprintf("line is longer than the limit of %d bytes", r.maxLine), nil
		}
		if len(line) > 0 {
			break
		}
	}
	start, raw = r.lines.line, line
	c.buf, c.ends, c.raw = c.buf[:0], c.ends[:0], c.raw[:0]
	for i := 0; ; {
		if i < len(line) && line[i] == '"' {
			i++
			for { // to the closing quote, over doubled quotes and line breaks
				j := bytes.IndexByte(line[i:], '"')
				if j >= 0 {
					c.buf = append(c.buf, line[i:i+j]...)
					i += j + 1
					if i < len(line) && line[i] == '"' {
						c.buf = append(c.buf, '"')
						i++
						continue
					}
					break
				}
				c.buf = append(c.buf, line[i:]...)
				c.buf = append(c.buf, '\n')
				if len(c.raw) == 0 {
					c.raw = append(c.raw, line...) // line is overwritten by the next read
				}
				next, tooLong, err := r.lines.next()
				switch {
				case err == io.EOF:
					return start, c.raw, fmt.Sprintf("cell %d: quote opened and never closed", len(c.ends)+1), nil
				case err != nil:
					return 0, nil, "", err
				case tooLong || len(c.buf)+len(next) > r.maxLine:
					// Read on to the record's end, so that the records after it
					// are read right, but keep none of it.
					problem = fmt.Sprintf("record is longer than the limit of %d bytes", r.maxLine)
					c.buf, c.ends = c.buf[:0], c.ends[:0]
				}
				if len(c.raw) < MaxRawBytes {
					c.raw = append(c.raw, '\n')
					c.raw = append(c.raw, next[:min(len(next), MaxRawBytes)]...)
				}
				raw, line, i = c.raw, next, 0
			}
			c.ends = append(c.ends, len(c.buf))
			if i == len(line) {
				return start, raw, problem, nil
			}
			if line[i] != ',' {
				return start, raw, fmt.Sprintf("cell %d: %q after the closing quote", len(c.ends), line[i]), nil
			}
			i++
			continue
		}
		end := len(line)
		if j := bytes.IndexByte(line[i:], ','); j >= 0 {
			end = i + j
		}
		if problem == "" && bytes.IndexByte(line[i:end], '"') >= 0 {
			problem = fmt.Sprintf(`cell %d: bare " in an unquoted cell (quote the cell and double the ")`, len(c.ends)+1)
		}
		c.buf = append(c.buf, line[i:end]...)
		c.ends = append(c.ends, len(c.buf))
		if end == len(line) {
			return start, raw, problem, nil
		}
		i = end + 1
	}
}
