// Package fileerr is the error of a file a user wrote — a rule, a features
// file, a model — pointing at the line to fix, and a list of them. The
// policy and feature packages report their problems with it, so that `vigil
// test`, CI annotations and the runner's start-up line read the same.
package fileerr

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem, pointing at the file and line to fix.
type Error struct {
	File string // as the user passed it, e.g. policies/risk/rules/card_testing.rego
	Line int    // 1-based; 0 when the problem is the file as a whole
	Msg  string
}

func (e *Error) Error() string {
	switch {
	case e.File == "":
		return e.Msg
	case e.Line == 0:
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Errors is every problem found, one per line of its message.
type Errors []*Error

func (es Errors) Error() string {
	if len(es) == 1 {
		return es[0].Error()
	}
	return fmt.Sprintf("%d problems:\n%s", len(es), es.join("\n"))
}

// OneLine renders the errors on one line, for a log message.
func (es Errors) OneLine() string { return es.join("; ") }

func (es Errors) join(sep string) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, sep)
}

// Sorted sorts es by file, line and message and drops repeats.
func (es Errors) Sorted() Errors {
	slices.SortStableFunc(es, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Msg, b.Msg))
	})
	return slices.CompactFunc(es, func(a, b *Error) bool { return *a == *b })
}
