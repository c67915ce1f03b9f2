package console

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/policy"
	"github.com/vigil-risk/vigil/runner/server/auth"
)

// ruleRow is one rule on the rules page.
type ruleRow struct {
	policy.Rule
	Hits         int64 // enforced hits in the last 24h
	Shadow       int64 // shadow hits in the last 24h
	Precision    float64
	HasPrecision bool
	Labels       map[alert.Resolution]int
	Labelled     int
}

type rulesData struct {
	Revision  string
	LoadedAt  time.Time
	Rules     []ruleRow
	HitsKnown bool // the tap counts hits
	HitsError string
}

func (c *Console) rules(w http.ResponseWriter, r *http.Request, s auth.Session) {
	ctx := r.Context()
	p := c.opts.Policy()
	d := &rulesData{Revision: p.Revision, LoadedAt: p.LoadedAt, HitsKnown: c.opts.Tap != nil}
	var hits map[string]RuleHits
	if c.opts.Tap != nil {
		var err error
		if hits, err = c.opts.Tap.Hits(ctx, c.opts.Now().Add(-24*time.Hour)); err != nil {
			c.log.Error("console: reading rule hits failed", "err", err)
			d.HitsError = err.Error()
		}
	}
	counts, err := c.opts.Alerts.LabelCounts(ctx)
	if err != nil {
		c.log.Error("console: reading label counts failed", "err", err)
		c.message(w, r, &s, http.StatusInternalServerError, "Error", "Reading the rules' labels failed: "+err.Error())
		return
	}
	for _, rule := range p.Rules {
		row := ruleRow{Rule: rule, Labels: map[alert.Resolution]int{}}
		if h, ok := hits[rule.Name]; ok {
			row.Hits, row.Shadow = h.Hits, h.Shadow
		}
		for _, lc := range counts {
			if lc.Rule == rule.Name {
				row.Labels[lc.Resolution] += lc.Alerts
				row.Labelled += lc.Alerts
			}
		}
		row.Precision, row.HasPrecision = alert.Precision(counts, rule.Name)
		d.Rules = append(d.Rules, row)
	}
	c.render(w, http.StatusOK, "rules", c.view(&s, "Rules", "rules", d))
}

type liveData struct {
	Recent []StreamEvent
}

// live shows the latest decisions with hits; its script then follows the
// stream.
func (c *Console) live(w http.ResponseWriter, r *http.Request, s auth.Session) {
	c.render(w, http.StatusOK, "live", c.view(&s, "Live decisions", "live", &liveData{Recent: c.opts.Tap.hub.latest()}))
}

// stream is the live decisions as server-sent events until the client or
// the server goes away.
func (c *Console) stream(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	rc := http.NewResponseController(w)
	// A stream outlives server.write_timeout: it has no deadline of its own,
	// and ends with the client, the server, or a failed write.
	if err := rc.SetWriteDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ch, cancel, err := c.opts.Tap.hub.subscribe()
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer cancel()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(": vigil live decisions\n\n"))
	if err := rc.Flush(); err != nil {
		return
	}
	keepAlive := time.NewTicker(20 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case msg, open := <-ch:
			if !open {
				return
			}
			if _, err := w.Write(msg); err != nil || rc.Flush() != nil {
				return
			}
		case <-keepAlive.C:
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

type adminData struct {
	Users     []auth.User
	Config    string
	ConfigErr string
}

func (c *Console) admin(w http.ResponseWriter, r *http.Request, s auth.Session) {
	d := &adminData{Users: c.opts.Auth.Users().List()}
	if c.opts.Config != nil {
		b, err := c.opts.Config()
		if err != nil {
			d.ConfigErr = err.Error()
		}
		d.Config = string(b)
	}
	c.render(w, http.StatusOK, "admin", c.view(&s, "Admin", "admin", d))
}

// actData is the confirmation page of a chat link.
type actData struct {
	Token       string
	CSRF        string
	Link        auth.Link
	Verb        string // "Acknowledge" or "Resolve"
	Alert       alert.Alert
	Resolutions []alert.Resolution
}

// linkToken is a link's token: /console/act?t=TOKEN, or in the path.
func linkToken(r *http.Request) string {
	if t := r.PathValue("token"); t != "" {
		return t
	}
	if t := r.URL.Query().Get("t"); t != "" {
		return t
	}
	return r.PostFormValue("t")
}

// checkLink verifies a link and that it was not used; on refusal it has
// written the page saying why.
func (c *Console) checkLink(w http.ResponseWriter, r *http.Request) (auth.Link, bool) {
	l, err := c.opts.Auth.ParseLink(linkToken(r))
	switch {
	case errors.Is(err, auth.ErrLinkExpired):
		c.message(w, r, nil, http.StatusGone, "Link expired",
			fmt.Sprintf("This link expired at %s. Open alert %d in the console instead.", when(l.Expires), l.AlertID))
		return l, false
	case err != nil:
		c.message(w, r, nil, http.StatusBadRequest, "Invalid link",
			"This link is not valid: it was altered or cut short. Open the alert in the console instead.")
		return l, false
	}
	used, found, err := c.opts.Auth.LinkUse(r.Context(), l)
	switch {
	case err != nil:
		c.log.Error("console: checking a link failed", "err", err)
		c.message(w, r, nil, http.StatusInternalServerError, "Error", "The link could not be checked: "+err.Error())
		return l, false
	case found:
		c.message(w, r, nil, http.StatusGone, "Link already used",
			fmt.Sprintf("This link was already used by %s at %s; a link acts once.", used.By, when(used.At)))
		return l, false
	}
	return l, true
}

func verbOf(action string) string {
	if action == auth.LinkResolve {
		return "Resolve"
	}
	return "Acknowledge"
}

// linkPage shows what a chat link will do, and to which alert; nothing
// happens until the form is posted (chat apps fetch links to preview them).
func (c *Console) linkPage(w http.ResponseWriter, r *http.Request) {
	l, ok := c.checkLink(w, r)
	if !ok {
		return
	}
	a, err := c.opts.Alerts.Get(r.Context(), l.AlertID)
	if err != nil {
		status := statusOf(err)
		c.message(w, r, nil, status, "Alert unavailable", fmt.Sprintf("Alert %d cannot be shown: %v", l.AlertID, err))
		return
	}
	d := &actData{Token: linkToken(r), CSRF: c.opts.Auth.LinkCSRF(l), Link: l, Verb: verbOf(l.Action), Alert: a, Resolutions: resolutions}
	c.render(w, http.StatusOK, "act", c.view(nil, fmt.Sprintf("%s alert %d", d.Verb, a.ID), "", d))
}

// linkAct performs a chat link's action once, as the link's actor.
func (c *Console) linkAct(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		c.message(w, r, nil, http.StatusBadRequest, "Bad form", "The form could not be read: "+err.Error())
		return
	}
	l, ok := c.checkLink(w, r)
	if !ok {
		return
	}
	if err := c.opts.Auth.CheckLinkCSRF(l, r.PostFormValue(auth.CSRFField)); err != nil {
		c.message(w, r, nil, http.StatusForbidden, "Form expired", "This form was not made for this link: open the link again.")
		return
	}
	act := alert.Action{Kind: alert.ActAck, Actor: l.Actor, Comment: "via chat link"}
	if l.Action == auth.LinkResolve {
		act.Kind, act.Resolution = alert.ActResolve, alert.Resolution(r.PostFormValue("resolution"))
		if !slices.Contains(resolutions, act.Resolution) {
			c.message(w, r, nil, http.StatusBadRequest, "Bad form", "resolution: choose true_positive, false_positive, benign or duplicate")
			return
		}
	}
	ctx := r.Context()
	if err := c.opts.Auth.UseLink(ctx, l, l.Actor); err != nil {
		if errors.Is(err, auth.ErrLinkUsed) {
			c.message(w, r, nil, http.StatusGone, "Link already used", "A link acts once: "+err.Error()+".")
			return
		}
		c.log.Error("console: using a link failed", "err", err)
		c.message(w, r, nil, http.StatusInternalServerError, "Error", "The link could not be used: "+err.Error())
		return
	}
	a, err := c.opts.Alerts.Apply(ctx, l.AlertID, act)
	if err != nil {
		// Nothing was done: the link may be tried again.
		if rerr := c.opts.Auth.ReleaseLink(ctx, l); rerr != nil {
			c.log.Error("console: releasing a link failed", "err", rerr)
		}
		status := statusOf(err)
		if status == http.StatusInternalServerError {
			c.log.Error("console: link action failed", "alert", l.AlertID, "err", err)
		}
		c.message(w, r, nil, status, verbOf(l.Action)+" refused", err.Error())
		return
	}
	c.log.Info("console: chat link used", "alert", a.ID, "action", l.Action, "actor", l.Actor)
	c.message(w, r, nil, http.StatusOK, "Done",
		fmt.Sprintf("Alert %d (%s) is now %s, by %s.", a.ID, a.Title, a.Status, l.Actor))
}
