package policy

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Error is one problem with a bundle, pointing at the file and line to fix.
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

// Errors is every problem Load found, sorted by file and line.
type Errors []*Error

func (es Errors) Error() string {
	if len(es) == 1 {
		return es[0].Error()
	}
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return fmt.Sprintf("%d problems:\n%s", len(es), strings.Join(parts, "\n"))
}

// OneLine renders the errors on one line, for a log message.
func (es Errors) OneLine() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func (es Errors) sorted() Errors {
	slices.SortStableFunc(es, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Msg, b.Msg))
	})
	return slices.CompactFunc(es, func(a, b *Error) bool { return *a == *b })
}

// fromOPA turns an error from OPA's parser, compiler or bundle reader into
// Errors, keeping each location. Anything without one is charged to file.
func fromOPA(err error, file string) Errors {
	var astErrs ast.Errors
	if errors.As(err, &astErrs) {
		out := make(Errors, 0, len(astErrs))
		for _, e := range astErrs {
			out = append(out, fromASTError(e, file))
		}
		return out
	}
	var astErr *ast.Error
	if errors.As(err, &astErr) {
		return Errors{fromASTError(astErr, file)}
	}
	return Errors{{File: file, Msg: err.Error()}}
}

func fromASTError(e *ast.Error, file string) *Error {
	out := &Error{File: file, Msg: e.Message}
	if e.Code != "" {
		out.Msg = e.Code + ": " + e.Message
	}
	if e.Location != nil {
		if e.Location.File != "" {
			out.File = e.Location.File
		}
		out.Line = e.Location.Row
	}
	return out
}
