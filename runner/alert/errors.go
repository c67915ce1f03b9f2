package alert

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound: no alert with that ID (HTTP 404).
	ErrNotFound = errors.New("not found")
	// ErrInvalid: a request that can never succeed as made (HTTP 400).
	ErrInvalid = errors.New("invalid")
	// ErrConflict: a concurrent change won; re-read and try again (HTTP 409).
	// Stores return it for a lost version check or a second unresolved alert
	// with one fingerprint.
	ErrConflict = errors.New("conflict")
)

// TransitionError is a lifecycle change the alert's status does not allow
// (HTTP 409), such as acknowledging a resolved alert.
type TransitionError struct {
	ID   int64
	From Status // the alert's status
	To   Status // the status asked for
}

func (e *TransitionError) Error() string {
	verb := "acknowledge"
	if e.To == Resolved {
		verb = "resolve"
	}
	if e.From == e.To {
		return fmt.Sprintf("cannot %s alert %d: it is already %s", verb, e.ID, e.From)
	}
	return fmt.Sprintf("cannot %s alert %d: it is %s", verb, e.ID, e.From)
}
