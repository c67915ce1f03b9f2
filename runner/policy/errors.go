package policy

import (
	"errors"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/vigil-risk/vigil/runner/fileerr"
)

// Error is one problem with a bundle, pointing at the file and line to fix.
type Error = fileerr.Error

// Errors is every problem Load found, sorted by file and line.
type Errors = fileerr.Errors

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
