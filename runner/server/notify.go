package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/match"
	"github.com/vigil-risk/vigil/runner/notify/silence"
)

// Notifications is what the notification endpoints read (a
// *notify.Dispatcher or a *notify.Outbox).
type Notifications interface {
	List(ctx context.Context, f notify.Filter) ([]notify.Notification, error)
	Get(ctx context.Context, id int64) (notify.Notification, error)
}

// notifyRoutes adds the silence and notification endpoints the options allow.
func (s *Server) notifyRoutes(mux *http.ServeMux) {
	if s.opts.Silences != nil {
		mux.HandleFunc("GET /v1/silences", s.listSilences)
		mux.HandleFunc("POST /v1/silences", s.createSilence)
		mux.HandleFunc("GET /v1/silences/{id}", s.getSilence)
		mux.HandleFunc("DELETE /v1/silences/{id}", s.expireSilence)
	}
	if s.opts.Notifications != nil {
		mux.HandleFunc("GET /v1/notifications", s.listNotifications)
		mux.HandleFunc("GET /v1/notifications/{id}", s.getNotification)
	}
}

func (s *Server) listSilences(w http.ResponseWriter, r *http.Request) {
	f := silence.Filter{State: silence.State(r.URL.Query().Get("state"))}
	if !queryInt(w, r, "limit", &f.Limit) {
		return
	}
	sils, err := s.opts.Silences.List(r.Context(), f)
	if err != nil {
		s.silenceError(w, err)
		return
	}
	if sils == nil {
		sils = []silence.Silence{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"silences": sils})
}

// silenceBody is a new silence: matchers as Alertmanager writes them, an end
// (ends_at, or a duration from the start), who and why. Unknown fields are
// refused; created_by may come from the X-Vigil-Actor header instead.
type silenceBody struct {
	Matchers  []string  `json:"matchers"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	Duration  string    `json:"duration"`
	CreatedBy string    `json:"created_by"`
	Comment   string    `json:"comment"`
}

func (s *Server) createSilence(w http.ResponseWriter, r *http.Request) {
	var b silenceBody
	if !s.readAction(w, r, &b) {
		return
	}
	ms, err := match.ParseAll(b.Matchers)
	if err != nil {
		writeError(w, http.StatusBadRequest, "matchers"+err.Error(), nil)
		return
	}
	in := silence.Silence{Matchers: ms, StartsAt: b.StartsAt, EndsAt: b.EndsAt, CreatedBy: actor(r, b.CreatedBy), Comment: b.Comment}
	if b.Duration != "" {
		d, err := time.ParseDuration(b.Duration)
		if err != nil || d <= 0 || !b.EndsAt.IsZero() {
			writeError(w, http.StatusBadRequest, "duration: want a positive duration such as 2h, and no ends_at", nil)
			return
		}
		if in.StartsAt.IsZero() {
			in.StartsAt = s.opts.Silences.Now()
		}
		in.EndsAt = in.StartsAt.Add(d)
	}
	sil, err := s.opts.Silences.Create(r.Context(), in)
	if err != nil {
		s.silenceError(w, err)
		return
	}
	w.Header().Set("Location", "/v1/silences/"+sil.ID)
	writeJSON(w, http.StatusCreated, sil)
}

func (s *Server) getSilence(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	sil, err := s.opts.Silences.Get(r.Context(), id)
	if err != nil {
		s.silenceError(w, err)
		return
	}
	events, err := s.opts.Silences.Events(r.Context(), id)
	if err != nil {
		s.silenceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"silence": sil, "events": events})
}

// expireSilence ends a silence now (Alertmanager's DELETE). The actor comes
// from the X-Vigil-Actor header or ?actor=.
func (s *Server) expireSilence(w http.ResponseWriter, r *http.Request) {
	who := actor(r, r.URL.Query().Get("actor"))
	sil, err := s.opts.Silences.Expire(r.Context(), r.PathValue("id"), who)
	if err != nil {
		s.silenceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sil)
}

// silenceError maps the silence service's errors to statuses.
func (s *Server) silenceError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, silence.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error(), nil)
	case errors.Is(err, silence.ErrConflict):
		writeError(w, http.StatusConflict, err.Error(), nil)
	case errors.Is(err, silence.ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error(), nil)
	default:
		s.log.Error("silences failed", "err", err)
		writeError(w, http.StatusInternalServerError, "silences: "+err.Error(), nil)
	}
}

// listNotifications lists the outbox, newest first: ?status=failed shows the
// dead letters with the vendor's words; receiver, limit and before (an id,
// for the next page) narrow it.
func (s *Server) listNotifications(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := notify.Filter{Status: notify.Status(q.Get("status")), Receiver: q.Get("receiver")}
	if !queryInt(w, r, "limit", &f.Limit) {
		return
	}
	if v := q.Get("before"); v != "" {
		var err error
		if f.Before, err = strconv.ParseInt(v, 10, 64); err != nil || f.Before < 1 {
			writeError(w, http.StatusBadRequest, "before: want a notification id", nil)
			return
		}
	}
	ns, err := s.opts.Notifications.List(r.Context(), f)
	if err != nil {
		if errors.Is(err, notify.ErrInvalid) {
			writeError(w, http.StatusBadRequest, err.Error(), nil)
			return
		}
		s.log.Error("notifications failed", "err", err)
		writeError(w, http.StatusInternalServerError, err.Error(), nil)
		return
	}
	if ns == nil {
		ns = []notify.Notification{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"notifications": ns})
}

func (s *Server) getNotification(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeError(w, http.StatusBadRequest, "notification id: want a positive integer", nil)
		return
	}
	n, err := s.opts.Notifications.Get(r.Context(), id)
	switch {
	case errors.Is(err, notify.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error(), nil)
	case err != nil:
		s.log.Error("notifications failed", "err", err)
		writeError(w, http.StatusInternalServerError, err.Error(), nil)
	default:
		writeJSON(w, http.StatusOK, n)
	}
}

// queryInt reads a positive integer query parameter into dst, if present.
func queryInt(w http.ResponseWriter, r *http.Request, name string, dst *int) bool {
	v := r.URL.Query().Get(name)
	if v == "" {
		return true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		writeError(w, http.StatusBadRequest, name+": want a positive integer", nil)
		return false
	}
	*dst = n
	return true
}
