package policy

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/vigil-risk/vigil/runner/decision"
)

// WithDifferential makes every Decide evaluate the record both ways — the
// fast path and plain OPA (DecideOPA) — and fail with a *MismatchError
// when they differ. It doubles the cost of a decision and more: it is for
// tests, replays and canaries, not for the hot path.
func WithDifferential() Option {
	return func(o *options) { o.differential = true }
}

// MismatchError is a record on which the fast path and plain OPA decided
// differently.
type MismatchError struct {
	RecordID string
	Fast     string // the fast path's decision, or its error
	OPA      string // plain OPA's
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("record %s: the fast path and OPA disagree:\n  fast: %s\n  opa:  %s", e.RecordID, e.Fast, e.OPA)
}

// mismatch compares two outcomes of Decide: both failed, or both decided
// the same (the time they took aside).
func mismatch(got *decision.Decision, gotErr error, want *decision.Decision, wantErr error) *MismatchError {
	if gotErr != nil || wantErr != nil {
		if gotErr != nil && wantErr != nil {
			return nil
		}
		return &MismatchError{RecordID: want.RecordID, Fast: outcomeText(got, gotErr), OPA: outcomeText(want, wantErr)}
	}
	a, b := *got, *want
	a.EvalUS, b.EvalUS = 0, 0
	if reflect.DeepEqual(a, b) {
		return nil
	}
	return &MismatchError{RecordID: want.RecordID, Fast: outcomeText(&a, nil), OPA: outcomeText(&b, nil)}
}

func outcomeText(d *decision.Decision, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	b, _ := json.Marshal(d)
	return string(b)
}
