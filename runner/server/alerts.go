package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/decision"
)

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := alert.Filter{
		Status:   alert.Status(q.Get("status")),
		Rule:     q.Get("rule"),
		Severity: decision.Severity(q.Get("severity")),
		Entity:   q.Get("entity"),
	}
	var err error
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 {
			writeError(w, http.StatusBadRequest, "limit: want a positive integer", nil)
			return
		}
	}
	if v := q.Get("before"); v != "" {
		if f.Before, err = strconv.ParseInt(v, 10, 64); err != nil {
			writeError(w, http.StatusBadRequest, "before: want an alert id", nil)
			return
		}
	}
	alerts, err := s.opts.Alerts.List(r.Context(), f)
	if err != nil {
		s.alertError(w, err)
		return
	}
	if alerts == nil {
		alerts = []alert.Alert{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": alerts})
}

func (s *Server) getAlert(w http.ResponseWriter, r *http.Request) {
	id, ok := alertID(w, r)
	if !ok {
		return
	}
	a, err := s.opts.Alerts.Get(r.Context(), id)
	if err != nil {
		s.alertError(w, err)
		return
	}
	recs, err := s.opts.Alerts.Records(r.Context(), id)
	if err != nil {
		s.alertError(w, err)
		return
	}
	events, err := s.opts.Alerts.Events(r.Context(), id)
	if err != nil {
		s.alertError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"alert": a, "records": recs, "events": events})
}

// ackBody and resolveBody are the bodies of ack and resolve; unknown fields
// are refused. The actor may come from the X-Vigil-Actor header instead.
type ackBody struct {
	Actor   string `json:"actor"`
	Comment string `json:"comment"`
}

type resolveBody struct {
	Actor      string `json:"actor"`
	Comment    string `json:"comment"`
	Resolution string `json:"resolution"`
}

// readAction decodes the optional JSON body of a lifecycle request into v.
func (s *Server) readAction(w http.ResponseWriter, r *http.Request, v any) bool {
	body, ok := s.readBody(w, r)
	if !ok {
		return false
	}
	if firstByte(body) == 0 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		err = errors.New("unexpected data after the JSON object")
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "body: "+err.Error(), nil)
		return false
	}
	return true
}

// actor is who makes a change: the body's actor, else the X-Vigil-Actor header.
func actor(r *http.Request, fromBody string) string {
	if strings.TrimSpace(fromBody) != "" {
		return fromBody
	}
	return r.Header.Get("X-Vigil-Actor")
}

func (s *Server) ackAlert(w http.ResponseWriter, r *http.Request) {
	id, ok := alertID(w, r)
	if !ok {
		return
	}
	var b ackBody
	if !s.readAction(w, r, &b) {
		return
	}
	a, err := s.opts.Alerts.Ack(r.Context(), id, actor(r, b.Actor), b.Comment)
	if err != nil {
		s.alertError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) resolveAlert(w http.ResponseWriter, r *http.Request) {
	id, ok := alertID(w, r)
	if !ok {
		return
	}
	var b resolveBody
	if !s.readAction(w, r, &b) {
		return
	}
	a, err := s.opts.Alerts.Resolve(r.Context(), id, actor(r, b.Actor), alert.Resolution(b.Resolution), b.Comment)
	if err != nil {
		s.alertError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func alertID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeError(w, http.StatusBadRequest, "alert id: want a positive integer", nil)
		return 0, false
	}
	return id, true
}

// alertError maps the alert service's errors to statuses: unknown alert 404,
// an illegal transition 409, a bad request 400, anything else 500.
func (s *Server) alertError(w http.ResponseWriter, err error) {
	var te *alert.TransitionError
	switch {
	case errors.Is(err, alert.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error(), nil)
	case errors.As(err, &te), errors.Is(err, alert.ErrConflict):
		writeError(w, http.StatusConflict, err.Error(), nil)
	case errors.Is(err, alert.ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error(), nil)
	default:
		s.log.Error("alert store failed", "err", err)
		writeError(w, http.StatusInternalServerError, "alert store: "+err.Error(), nil)
	}
}
