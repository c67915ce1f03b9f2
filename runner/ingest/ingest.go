// Package ingest holds the sources records come from. Every source turns its
// input into normalised records (or dead letters) and hands them, in order, to
// a Handler; a source advances past a record only once the handler accepted it
// (at-least-once), so a stream that stops mid-way resumes without loss.
package ingest

import (
	"context"
	"fmt"

	"github.com/vigil-risk/vigil/runner/record"
)

// Handler takes what a source reads. An error from Record stops the source:
// the record was not accepted and must not be skipped.
type Handler interface {
	Record(ctx context.Context, rec record.Record, pos record.Position) error
	DeadLetter(ctx context.Context, dl *record.DeadLetter) error
}

// Source is one stream of records. Run reads until the input ends (returning
// nil), the context ends (returning its error) or the handler fails.
type Source interface {
	Name() string
	Run(ctx context.Context, h Handler) error
}

// NormalizerFunc returns the normaliser to use for the next input opened; it
// follows policy reloads, which may change the schema.
type NormalizerFunc func() *record.Normalizer

// check tells a source built without a normaliser from one that can run:
// the mistake is the caller's, and a panic per record would hide it.
func (fn NormalizerFunc) check(source string) error {
	if fn == nil {
		return fmt.Errorf("%s: no Normalizer set", source)
	}
	return nil
}

// drain reads every record of r into h.
func drain(ctx context.Context, r *record.Reader, h Handler) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, dl, err := r.Next()
		if err != nil {
			return err
		}
		if dl != nil {
			if err := h.DeadLetter(ctx, dl); err != nil {
				return err
			}
			continue
		}
		if err := h.Record(ctx, rec, r.Position()); err != nil {
			return err
		}
	}
}
