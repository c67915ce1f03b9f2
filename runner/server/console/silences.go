package console

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/notify/match"
	"github.com/vigil-risk/vigil/runner/notify/silence"
	"github.com/vigil-risk/vigil/runner/server/auth"
)

type silencesData struct {
	State    string
	States   []string
	Silences []silence.Silence
	// The new-silence form, prefilled from an alert's "silence" link or
	// kept after a refusal.
	Matchers  string
	Duration  string
	Comment   string
	Durations []string
	Now       time.Time
}

var silenceStates = []string{"", string(silence.Active), string(silence.Pending), string(silence.Expired)}

var silenceDurations = []string{"1h", "4h", "24h", "7d", "30d"}

func (c *Console) silences(w http.ResponseWriter, r *http.Request, s auth.Session) {
	q := r.URL.Query()
	d := &silencesData{State: q.Get("state"), Matchers: strings.Join(q["matcher"], "\n"), Comment: q.Get("comment"), Duration: "4h"}
	c.renderSilences(w, r, s, d, http.StatusOK, "")
}

func (c *Console) renderSilences(w http.ResponseWriter, r *http.Request, s auth.Session, d *silencesData, status int, errMsg string) {
	d.States, d.Durations, d.Now = silenceStates, silenceDurations, c.opts.Silences.Now()
	v := c.view(&s, "Silences", "silences", d)
	v.Error = errMsg
	if errMsg == "" {
		switch r.URL.Query().Get("done") {
		case "created":
			v.Notice = "Silence created."
		case "expired":
			v.Notice = "Silence expired."
		}
	}
	var err error
	if d.Silences, err = c.opts.Silences.List(r.Context(), silence.Filter{State: silence.State(d.State), Limit: 200}); err != nil {
		if status == http.StatusOK {
			status = http.StatusBadRequest
			if !errors.Is(err, silence.ErrInvalid) {
				status = http.StatusInternalServerError
				c.log.Error("console: listing silences failed", "err", err)
			}
		}
		v.Error = err.Error()
	}
	c.render(w, status, "silences", v)
}

// createSilence makes a silence from the form: matchers one per line, a
// duration, a comment; the creator is the logged-in user.
func (c *Console) createSilence(w http.ResponseWriter, r *http.Request, s auth.Session) {
	d := &silencesData{Matchers: r.PostFormValue("matchers"), Duration: r.PostFormValue("duration"), Comment: r.PostFormValue("comment")}
	var lines []string
	for _, l := range strings.Split(d.Matchers, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	ms, err := match.ParseAll(lines)
	if err != nil {
		c.renderSilences(w, r, s, d, http.StatusBadRequest, "matchers: "+err.Error())
		return
	}
	dur, err := sinceDuration(d.Duration)
	if err != nil {
		c.renderSilences(w, r, s, d, http.StatusBadRequest, "duration: want e.g. 4h or 7d")
		return
	}
	start := c.opts.Silences.Now()
	_, err = c.opts.Silences.Create(r.Context(), silence.Silence{Matchers: ms, StartsAt: start, EndsAt: start.Add(dur),
		CreatedBy: s.Name, Comment: strings.TrimSpace(d.Comment)})
	if err != nil {
		status := http.StatusBadRequest
		if !errors.Is(err, silence.ErrInvalid) {
			status = http.StatusInternalServerError
			c.log.Error("console: creating a silence failed", "err", err)
		}
		c.renderSilences(w, r, s, d, status, err.Error())
		return
	}
	http.Redirect(w, r, auth.ConsolePath+"/silences?done=created", http.StatusSeeOther)
}

func (c *Console) expireSilence(w http.ResponseWriter, r *http.Request, s auth.Session) {
	_, err := c.opts.Silences.Expire(r.Context(), r.PathValue("id"), s.Name)
	switch {
	case errors.Is(err, silence.ErrNotFound):
		c.message(w, r, &s, http.StatusNotFound, "Not found", err.Error())
	case errors.Is(err, silence.ErrConflict), errors.Is(err, silence.ErrInvalid):
		c.renderSilences(w, r, s, &silencesData{Duration: "4h"}, http.StatusConflict, err.Error())
	case err != nil:
		c.log.Error("console: expiring a silence failed", "err", err)
		c.message(w, r, &s, http.StatusInternalServerError, "Error", err.Error())
	default:
		http.Redirect(w, r, auth.ConsolePath+"/silences?done=expired", http.StatusSeeOther)
	}
}
