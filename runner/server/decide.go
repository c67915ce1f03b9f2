package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/record"
)

const httpSource = "http"

// decide answers POST /v1/decide: one JSON object in, its decision out. An
// invalid record is a 400 naming its fields, and is dead-lettered like a bad
// record from any other source.
func (s *Server) decide(w http.ResponseWriter, r *http.Request) {
	switch f, err := bodyFormat(r); {
	case err != nil:
		writeError(w, http.StatusUnsupportedMediaType, err.Error(), nil)
		return
	case f == record.FormatCSV || f == record.FormatJSONL:
		writeError(w, http.StatusUnsupportedMediaType, "/v1/decide takes one JSON object; post CSV and JSONL batches to /v1/records", nil)
		return
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	// The JSON reader would take an array of one record as that record:
	// only a bare object is one record.
	switch c := firstByte(body); {
	case c == 0:
		writeError(w, http.StatusBadRequest, "empty body: want one JSON object", nil)
		return
	case c != '{':
		writeError(w, http.StatusBadRequest, "want one JSON object; post arrays and batches to /v1/records", nil)
		return
	}
	rd := record.NewReader(bytes.NewReader(body), record.FormatJSON, httpSource, s.pipe.Normalizer())
	rec, dl, err := rd.Next()
	switch {
	case err != nil:
		writeError(w, http.StatusBadRequest, "reading the record: "+err.Error(), nil)
		return
	case dl != nil:
		s.deadLetter(r.Context(), dl)
		writeError(w, http.StatusBadRequest, "invalid record: "+reasons(dl.Errors), dl.Errors)
		return
	}
	if _, dl, err := rd.Next(); !errors.Is(err, io.EOF) {
		var details any
		if dl != nil {
			details = dl.Errors
		}
		writeError(w, http.StatusBadRequest, "want exactly one JSON object, found more after it; post batches to /v1/records", details)
		return
	}
	// Once read, a record is decided to the end even if the client leaves:
	// never a decision logged without its alerts.
	d, err := s.pipe.Decide(context.WithoutCancel(r.Context()), rec, httpSource)
	if err != nil {
		var evalErr *pipeline.EvalError
		if errors.As(err, &evalErr) {
			s.deadLetter(r.Context(), &record.DeadLetter{Position: rd.Position(), Errors: []record.FieldError{{Reason: err.Error()}}, Raw: rawOf(body)})
		}
		s.fail(w, rec, err)
		return
	}
	writeJSON(w, http.StatusOK, &d)
}

// fail answers for a record the pipeline could not decide: a policy that
// failed on it is a 500, a failing alert store a 503 (try again).
func (s *Server) fail(w http.ResponseWriter, rec record.Record, err error) {
	if _, ok := errors.AsType[*pipeline.EvalError](err); ok {
		s.log.Error("policy evaluation failed", "record", rec.ID, "err", err)
		writeError(w, http.StatusInternalServerError, err.Error(), nil)
		return
	}
	s.log.Error("deciding a record failed", "record", rec.ID, "err", err)
	writeError(w, http.StatusServiceUnavailable, err.Error(), nil)
}

// deadLetter hands a refused record to the pipeline's dead-letter log; a
// failing log is the operator's problem, not the client's.
func (s *Server) deadLetter(ctx context.Context, dl *record.DeadLetter) {
	if err := s.pipe.DeadLetter(ctx, dl); err != nil {
		s.log.Error("dead-letter log failed", "at", dl.Position.String(), "err", err)
	}
}

// reasons joins field errors into one line for an error message.
func reasons(errs []record.FieldError) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// rawOf keeps at most record.MaxRawBytes of a body for a dead letter.
func rawOf(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > record.MaxRawBytes {
		b = b[:record.MaxRawBytes]
	}
	return strings.ToValidUTF8(string(b), "")
}

// batchResult is one record's outcome in a /v1/records reply, in input order.
type batchResult struct {
	Index    int                 `json:"index"`
	Line     int                 `json:"line,omitempty"`
	Decision *decision.Decision  `json:"decision,omitempty"`
	Error    string              `json:"error,omitempty"`
	Errors   []record.FieldError `json:"errors,omitempty"`
}

type batchReply struct {
	Accepted int           `json:"accepted"`
	Rejected int           `json:"rejected"`
	Results  []batchResult `json:"results"`
}

// records answers POST /v1/records: a JSON array, JSONL or CSV batch in (the
// Content-Type says which, or the body's first byte), a result per record
// out. Bad records, and records the policy fails on, are reported and
// dead-lettered; the rest of the batch is still decided.
func (s *Server) records(w http.ResponseWriter, r *http.Request) {
	format, err := bodyFormat(r)
	if err != nil {
		writeError(w, http.StatusUnsupportedMediaType, err.Error(), nil)
		return
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	rd := record.NewReader(bytes.NewReader(body), format, httpSource, s.pipe.Normalizer())
	reply := batchReply{Results: []batchResult{}}
	for {
		if ctx.Err() != nil {
			// Nobody is left to read the reply; what was decided stays decided.
			s.log.Warn("batch abandoned by the client", "accepted", reply.Accepted, "rejected", reply.Rejected)
			return
		}
		rec, dl, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil { // only a CSV header can fail here, before any record
			writeError(w, http.StatusBadRequest, "reading the batch: "+err.Error(), nil)
			return
		}
		if dl != nil {
			reply.Rejected++
			reply.Results = append(reply.Results, batchResult{Index: dl.Index, Line: dl.Line, Error: "invalid record: " + reasons(dl.Errors), Errors: dl.Errors})
			s.deadLetter(ctx, dl)
			continue
		}
		pos := rd.Position()
		d, err := s.pipe.Decide(context.WithoutCancel(ctx), rec, httpSource)
		if err != nil {
			if _, ok := errors.AsType[*pipeline.EvalError](err); !ok {
				s.fail(w, rec, err)
				return
			}
			reply.Rejected++
			reply.Results = append(reply.Results, batchResult{Index: pos.Index, Line: pos.Line, Error: err.Error()})
			s.deadLetter(ctx, &record.DeadLetter{Position: pos, Errors: []record.FieldError{{Reason: err.Error()}}})
			continue
		}
		reply.Accepted++
		reply.Results = append(reply.Results, batchResult{Index: pos.Index, Line: pos.Line, Decision: &d})
	}
	writeJSON(w, http.StatusOK, &reply)
}
