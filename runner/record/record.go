// Package record owns the Record type and everything between raw bytes and a
// clean record: the schema (policies/schema.yaml), decoding of JSON, JSONL and
// CSV, validation, normalisation, and the dead-letter entries for records that
// cannot be used.
package record

import (
	"fmt"
	"strings"
	"time"
)

// Record is one normalised event: Fields is exactly what rules see as
// input.record. ID, Type and Time repeat the schema's id, type and time
// fields for the stages that need them without a map lookup.
//
// Field values are plain Go values: string, float64 (every number), bool,
// nil, map[string]any and []any. Timestamps are RFC 3339 strings in UTC.
type Record struct {
	ID     string
	Type   string
	Time   time.Time
	Fields map[string]any
}

// Position says where a record came from, for dead letters and messages.
type Position struct {
	Source string `json:"source"`         // "file:payments.jsonl", "http", "stdin", ...
	Line   int    `json:"line,omitempty"` // 1-based line of the record's start, 0 if unknown
	Index  int    `json:"index"`          // 0-based record number within the input
}

func (p Position) String() string {
	var b strings.Builder
	b.WriteString(p.Source)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	} else {
		fmt.Fprintf(&b, " record %d", p.Index+1)
	}
	return b.String()
}

// FieldError is one reason a record is invalid. Field is empty when the
// problem is the record as a whole (malformed JSON, not an object).
type FieldError struct {
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

func (e FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return fmt.Sprintf("field %q: %s", e.Field, e.Reason)
}

// DeadLetter is a record the pipeline could not use, with where it came from,
// why, and the raw bytes (truncated) so that it can be fixed and replayed.
type DeadLetter struct {
	Position
	Errors []FieldError `json:"errors"`
	Raw    string       `json:"raw"`
}

// MaxRawBytes bounds the raw copy kept in a dead letter.
const MaxRawBytes = 4096

func (d *DeadLetter) Error() string {
	parts := make([]string, len(d.Errors))
	for i, e := range d.Errors {
		parts[i] = e.Error()
	}
	return d.Position.String() + ": " + strings.Join(parts, "; ")
}
