package server

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/record"
)

const httpSource = "http"

// decide answers POST /v1/decide: one record in, its decision out.
func (s *Server) decide(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	rd := record.NewReader(bytes.NewReader(body), record.FormatJSON, httpSource, s.pipe.Normalizer())
	rec, dl, err := rd.Next()
	switch {
	case errors.Is(err, io.EOF):
		writeError(w, http.StatusBadRequest, "empty body: want one JSON object", nil)
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "reading the record: "+err.Error(), nil)
		return
	case dl != nil:
		writeError(w, http.StatusBadRequest, "invalid record", dl.Errors)
		return
	}
	if _, _, err := rd.Next(); !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "want exactly one JSON object; post several to /v1/records", nil)
		return
	}
	d, err := s.pipe.Decide(r.Context(), rec, httpSource)
	if err != nil {
		s.fail(w, rec, err)
		return
	}
	writeJSON(w, http.StatusOK, &d)
}

func (s *Server) fail(w http.ResponseWriter, rec record.Record, err error) {
	var evalErr *pipeline.EvalError
	if errors.As(err, &evalErr) {
		s.log.Error("policy evaluation failed", "record", rec.ID, "err", err)
		writeError(w, http.StatusInternalServerError, err.Error(), nil)
		return
	}
	s.log.Error("deciding a record failed", "record", rec.ID, "err", err)
	writeError(w, http.StatusServiceUnavailable, err.Error(), nil)
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

// records answers POST /v1/records: a JSON array, JSONL or CSV batch in, a
// result per record out. Bad records are reported and dead-lettered; the rest
// of the batch is still decided.
func (s *Server) records(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	rd := record.NewReader(bytes.NewReader(body), formatOf(r), httpSource, s.pipe.Normalizer())
	reply := batchReply{Results: []batchResult{}}
	for i := 0; ; i++ {
		rec, dl, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, "reading the batch: "+err.Error(), nil)
			return
		}
		if dl != nil {
			reply.Rejected++
			reply.Results = append(reply.Results, batchResult{Index: dl.Index, Line: dl.Line, Error: "invalid record", Errors: dl.Errors})
			if err := s.pipe.DeadLetter(r.Context(), dl); err != nil {
				s.log.Error("dead-letter log failed", "err", err)
			}
			continue
		}
		pos := rd.Position()
		d, err := s.pipe.Decide(r.Context(), rec, httpSource)
		var evalErr *pipeline.EvalError
		switch {
		case errors.As(err, &evalErr):
			reply.Rejected++
			reply.Results = append(reply.Results, batchResult{Index: pos.Index, Line: pos.Line, Error: err.Error()})
			continue
		case err != nil:
			s.fail(w, rec, err)
			return
		}
		reply.Accepted++
		reply.Results = append(reply.Results, batchResult{Index: pos.Index, Line: pos.Line, Decision: &d})
	}
	writeJSON(w, http.StatusOK, &reply)
}

// formatOf picks the batch format from the Content-Type.
func formatOf(r *http.Request) record.Format {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "text/csv":
		return record.FormatCSV
	case "application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines":
		return record.FormatJSONL
	}
	return record.FormatAuto
}
