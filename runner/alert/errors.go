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
	// with one fingerprint; Apply returns a *ConflictError, which is one.
	ErrConflict = errors.New("conflict")
)

// TransitionError is a change the alert's state does not allow (HTTP 409),
// such as acknowledging a resolved alert; Reason says why.
type TransitionError struct {
	ID     int64
	Action ActionKind // what was asked
	Status Status     // the alert's status when it was refused
	Reason string     // e.g. "it is already acknowledged"
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("cannot %s alert %d: %s", e.Action.verb(), e.ID, e.Reason)
}

// ConflictError is an Action whose Version is stale: someone changed the
// alert after the actor saw it (HTTP 409). It is an ErrConflict.
type ConflictError struct {
	ID      int64
	Seen    int    // the version the actor saw
	Current int    // the version now
	By      string // who made the latest change
}

func (e *ConflictError) Error() string {
	msg := fmt.Sprintf("alert %d changed since version %d (now %d)", e.ID, e.Seen, e.Current)
	if e.By != "" {
		msg += " by " + e.By
	}
	return msg + "; reload it and try again"
}

func (e *ConflictError) Is(target error) bool { return target == ErrConflict }
