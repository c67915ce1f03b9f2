package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/vigil-risk/vigil/runner/record"
)

// readBody reads a request body up to the limit; a larger body is a 413
// (refused before reading when its Content-Length already says so), a
// compressed one a 415.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Encoding "+enc+" is not supported: send the body uncompressed", nil)
		return nil, false
	}
	limit := s.opts.MaxBodyBytes
	if r.ContentLength > limit {
		s.tooLarge(w)
		return nil, false
	}
	buf, err := readAll(http.MaxBytesReader(w, r.Body, limit), r.ContentLength)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			s.tooLarge(w)
			return nil, false
		}
		writeError(w, http.StatusBadRequest, "reading the request body: "+err.Error(), nil)
		return nil, false
	}
	return buf, true
}

func (s *Server) tooLarge(w http.ResponseWriter) {
	writeError(w, http.StatusRequestEntityTooLarge, "request body is larger than the limit of "+
		strconv.FormatInt(s.opts.MaxBodyBytes, 10)+" bytes (server.max_body_bytes)", nil)
}

// readAll reads r to its end. sizeHint (the Content-Length, already checked
// against the limit) sizes the buffer once; the extra MinRead leaves room for
// the read that meets the end, so the buffer is not doubled for it.
func readAll(r io.Reader, sizeHint int64) ([]byte, error) {
	var buf bytes.Buffer
	if sizeHint > 0 {
		buf.Grow(int(sizeHint) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

// bodyFormat reads the record format from the Content-Type. JSON, JSONL and
// CSV have their types; no type, or a generic one (curl -d sends a form
// type), lets the reader detect the format. A type naming anything else, or
// a charset other than UTF-8, is an error (415).
func bodyFormat(r *http.Request) (record.Format, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" || ct == "application/json" { // the usual case, without parsing
		return record.FormatAuto, nil
	}
	// A bad parameter alone leaves a usable type: ignore it, as net/http does.
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil && (mt == "" || !errors.Is(err, mime.ErrInvalidMediaParameter)) {
		return "", fmt.Errorf("Content-Type %q: %v", ct, err)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "us-ascii") {
		return "", fmt.Errorf("Content-Type %q: charset %s is not supported, send UTF-8", ct, cs)
	}
	switch mt {
	case "text/csv", "application/csv":
		return record.FormatCSV, nil
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines":
		return record.FormatJSONL, nil
	case "application/json", "text/json", "text/plain", "application/octet-stream", "application/x-www-form-urlencoded":
		return record.FormatAuto, nil
	}
	if strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json") {
		return record.FormatAuto, nil
	}
	return "", fmt.Errorf("Content-Type %s is not supported: want application/json, application/x-ndjson or text/csv", mt)
}

// firstByte returns the first byte of b after a UTF-8 byte order mark and
// white space, or 0 when there is none.
func firstByte(b []byte) byte {
	b = bytes.TrimLeft(bytes.TrimPrefix(b, []byte("\uFEFF")), " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}
