package server

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
)

// alertRoutes serves the alert API: reading, the lifecycle's actions one
// alert at a time or in bulk, and the older /ack and /resolve shortcuts.
func (s *Server) alertRoutes(mux *http.ServeMux) {
	if s.opts.Alerts == nil {
		return
	}
	mux.HandleFunc("GET /v1/alerts", s.listAlerts)
	mux.HandleFunc("GET /v1/alerts/{id}", s.getAlert)
	mux.HandleFunc("POST /v1/alerts/{id}/ack", s.ackAlert)
	mux.HandleFunc("POST /v1/alerts/{id}/resolve", s.resolveAlert)
	mux.HandleFunc("POST /v1/alerts/{id}/actions", s.alertAction)
	mux.HandleFunc("POST /v1/alerts/actions", s.bulkAlertAction)
}

// actionBody is one lifecycle action: kind says which, the other fields
// are what that kind takes (alert.Action). Unknown fields are refused.
type actionBody struct {
	Kind       string `json:"kind"`
	Version    int    `json:"version"` // the version the actor saw; 0 = don't check
	Resolution string `json:"resolution"`
	Assignee   string `json:"assignee"`
	Until      string `json:"until"` // RFC 3339
	Comment    string `json:"comment"`
	Actor      string `json:"actor"` // ignored when the request is authenticated
}

// bulkBody is one action for many alerts; a version belongs to one alert,
// so it takes none.
type bulkBody struct {
	IDs []int64 `json:"ids"`
	actionBody
}

// bulkResult is what a bulk action did to one alert: status is the HTTP
// status a single action would have had.
type bulkResult struct {
	ID     int64        `json:"id"`
	Status int          `json:"status"`
	Alert  *alert.Alert `json:"alert,omitempty"`
	actionError
}

// action turns a body into an alert.Action, or says which field is wrong.
func (b *actionBody) action(r *http.Request) (alert.Action, string) {
	a := alert.Action{
		Kind:       alert.ActionKind(strings.TrimSpace(b.Kind)),
		Actor:      actor(r, b.Actor),
		Comment:    b.Comment,
		Resolution: alert.Resolution(b.Resolution),
		Assignee:   b.Assignee,
		Version:    b.Version,
	}
	kinds := alert.ActionKinds()
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	switch {
	case a.Kind == "":
		return a, "kind is required: " + strings.Join(names, ", ")
	case !slices.Contains(kinds, a.Kind):
		return a, `kind "` + string(a.Kind) + `": want ` + strings.Join(names, ", ")
	}
	if u := strings.TrimSpace(b.Until); u != "" {
		t, err := time.Parse(time.RFC3339, u)
		if err != nil {
			return a, `until "` + u + `": want an RFC 3339 time such as 2026-03-01T18:00:00Z`
		}
		a.Until = t
	}
	return a, ""
}

// alertAction is POST /v1/alerts/{id}/actions: one lifecycle change.
func (s *Server) alertAction(w http.ResponseWriter, r *http.Request) {
	id, ok := alertID(w, r)
	if !ok {
		return
	}
	var b actionBody
	if !s.readAction(w, r, &b) {
		return
	}
	act, bad := b.action(r)
	if bad != "" {
		writeError(w, http.StatusBadRequest, bad, nil)
		return
	}
	a, err := s.opts.Alerts.Apply(r.Context(), id, act)
	if err != nil {
		s.alertError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// bulkAlertAction is POST /v1/alerts/actions: one action for many alerts,
// each changed or refused on its own. The reply is 200 with a result per
// alert, in the order of ids, unless the request as a whole is bad.
func (s *Server) bulkAlertAction(w http.ResponseWriter, r *http.Request) {
	var b bulkBody
	if !s.readAction(w, r, &b) {
		return
	}
	act, bad := b.action(r)
	if bad != "" {
		writeError(w, http.StatusBadRequest, bad, nil)
		return
	}
	results, err := s.opts.Alerts.ApplyMany(r.Context(), b.IDs, act)
	if err != nil { // a bad request, or it ended part way
		s.alertError(w, err)
		return
	}
	out := make([]bulkResult, len(results))
	applied := 0
	for i, res := range results {
		out[i] = bulkResult{ID: res.ID, Status: http.StatusOK}
		if res.Err != nil {
			out[i].Status, out[i].actionError = s.alertErrorBody(res.Err)
			continue
		}
		a := res.Alert
		out[i].Alert = &a
		applied++
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": out, "applied": applied, "refused": len(out) - applied})
}
