package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/server/auth"
)

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := alert.Filter{
		Status:   alert.Status(q.Get("status")),
		Rule:     q.Get("rule"),
		Severity: decision.Severity(q.Get("severity")),
		Entity:   q.Get("entity"),
		Assignee: q.Get("assignee"),
	}
	var err error
	if v := q.Get("unresolved"); v != "" {
		if f.Unresolved, err = strconv.ParseBool(v); err != nil {
			writeError(w, http.StatusBadRequest, "unresolved: want true or false", nil)
			return
		}
	}
	for name, t := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(name); v != "" {
			if *t, err = time.Parse(time.RFC3339, v); err != nil {
				writeError(w, http.StatusBadRequest, name+": want an RFC 3339 time such as 2026-03-01T00:00:00Z", nil)
				return
			}
		}
	}
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
	Version int    `json:"version"` // optional: the version the actor saw
}

type resolveBody struct {
	Actor      string `json:"actor"`
	Comment    string `json:"comment"`
	Resolution string `json:"resolution"`
	Version    int    `json:"version"`
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

// actor is who makes a change: the authenticated user when there is one
// (whatever the body claims), else the body's actor, else the X-Vigil-Actor
// header (a server without authentication, embedded behind its own proxy).
func actor(r *http.Request, fromBody string) string {
	if p, ok := auth.PrincipalFrom(r.Context()); ok && p.Name != "" {
		return p.Name
	}
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
	a, err := s.opts.Alerts.Apply(r.Context(), id, alert.Action{Kind: alert.ActAck, Actor: actor(r, b.Actor), Comment: b.Comment, Version: b.Version})
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
	a, err := s.opts.Alerts.Apply(r.Context(), id, alert.Action{Kind: alert.ActResolve, Actor: actor(r, b.Actor),
		Resolution: alert.Resolution(b.Resolution), Comment: b.Comment, Version: b.Version})
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
// an illegal transition or a stale version 409, a bad request 400, anything
// else 500. A 409 carries the reason, or the current version to reload.
func (s *Server) alertError(w http.ResponseWriter, err error) {
	status, body := s.alertErrorBody(err)
	writeJSON(w, status, body)
}

// actionError is the body of a refused lifecycle action.
type actionError struct {
	Error string `json:"error"`
	// Reason is why the alert's state refuses the action (a 409 transition).
	Reason string `json:"reason,omitempty"`
	Status string `json:"status,omitempty"` // the alert's status then
	// CurrentVersion is the version to reload and retry from (a stale version).
	CurrentVersion int    `json:"current_version,omitempty"`
	ChangedBy      string `json:"changed_by,omitempty"`
}

func (s *Server) alertErrorBody(err error) (int, actionError) {
	var te *alert.TransitionError
	var ce *alert.ConflictError
	body := actionError{Error: err.Error()}
	switch {
	case errors.Is(err, alert.ErrNotFound):
		return http.StatusNotFound, body
	case errors.As(err, &te):
		body.Reason, body.Status = te.Reason, string(te.Status)
		return http.StatusConflict, body
	case errors.As(err, &ce):
		body.CurrentVersion, body.ChangedBy = ce.Current, ce.By
		return http.StatusConflict, body
	case errors.Is(err, alert.ErrConflict):
		return http.StatusConflict, body
	case errors.Is(err, alert.ErrInvalid):
		return http.StatusBadRequest, body
	}
	s.log.Error("alert store failed", "err", err)
	body.Error = "alert store: " + err.Error()
	return http.StatusInternalServerError, body
}
