package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/server/auth"
)

// queueFilter is the queue's filter form, as given.
type queueFilter struct {
	Status   string // unresolved (default), open, acknowledged, resolved, any
	Severity string
	Rule     string
	Assignee string // a person, team:<name>, "-" for nobody
	Entity   string
	Since    string // 1h, 6h, 24h, 7d, 30d or empty for any time
	Before   int64
}

var sinceChoices = []struct{ Value, Label string }{
	{"", "any time"}, {"1h", "last hour"}, {"6h", "last 6 hours"}, {"24h", "last 24 hours"}, {"7d", "last 7 days"}, {"30d", "last 30 days"},
}

var statusChoices = []string{"unresolved", "open", "acknowledged", "resolved", "any"}

var severities = []decision.Severity{decision.Critical, decision.High, decision.Medium, decision.Low}

// sinceDuration reads the since choice: 6h, 7d.
func sinceDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 {
			return 0, formError(fmt.Sprintf("since %q: want e.g. 24h or 7d", s))
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, formError(fmt.Sprintf("since %q: want e.g. 24h or 7d", s))
	}
	return d, nil
}

func (f queueFilter) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"status": f.Status, "severity": f.Severity, "rule": f.Rule,
		"assignee": f.Assignee, "entity": f.Entity, "since": f.Since} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Before > 0 {
		q.Set("before", strconv.FormatInt(f.Before, 10))
	}
	return q
}

// alertFilter turns the form into the alert service's filter.
func (f queueFilter) alertFilter(now time.Time) (alert.Filter, error) {
	out := alert.Filter{Rule: f.Rule, Severity: decision.Severity(f.Severity), Assignee: f.Assignee, Entity: f.Entity,
		Before: f.Before, Limit: pageSize + 1}
	switch f.Status {
	case "unresolved":
		out.Unresolved = true
	case "any":
	default:
		out.Status = alert.Status(f.Status)
	}
	if f.Since != "" {
		d, err := sinceDuration(f.Since)
		if err != nil {
			return out, err
		}
		out.Since = now.Add(-d)
	}
	return out, nil
}

// pageSize is how many alerts the queue shows at once.
const pageSize = 50

type queueData struct {
	Filter     queueFilter
	Alerts     []alert.Alert
	Rules      []string
	Statuses   []string
	Severities []decision.Severity
	Since      []struct{ Value, Label string }
	Next       string // the next (older) page, or ""
	Self       string // this page, where row forms come back to
	Now        time.Time
}

func (c *Console) queue(w http.ResponseWriter, r *http.Request, s auth.Session) {
	q := r.URL.Query()
	f := queueFilter{Status: q.Get("status"), Severity: q.Get("severity"), Rule: q.Get("rule"),
		Assignee: strings.TrimSpace(q.Get("assignee")), Entity: strings.TrimSpace(q.Get("entity")), Since: q.Get("since")}
	if f.Status == "" {
		f.Status = "unresolved"
	}
	now := c.opts.Now()
	data := queueData{Filter: f, Statuses: statusChoices, Severities: severities, Since: sinceChoices, Now: now,
		Self: auth.ConsolePath + "/alerts?" + f.query().Encode()}
	for _, rule := range c.opts.Policy().Rules {
		data.Rules = append(data.Rules, rule.Name)
	}
	v := c.view(&s, "Alerts", "alerts", &data)
	v.Notice = doneMessage(q)

	if b := q.Get("before"); b != "" {
		var err error
		if f.Before, err = strconv.ParseInt(b, 10, 64); err != nil || f.Before < 1 {
			v.Error = "before: want an alert id"
			c.render(w, http.StatusBadRequest, "alerts", v)
			return
		}
		data.Filter.Before = f.Before
	}
	af, err := f.alertFilter(now)
	if err == nil {
		data.Alerts, err = c.opts.Alerts.List(r.Context(), af)
	}
	if err != nil {
		status := statusOf(err)
		if status == http.StatusInternalServerError {
			c.log.Error("console: listing alerts failed", "err", err)
		}
		v.Error = err.Error()
		c.render(w, status, "alerts", v)
		return
	}
	if len(data.Alerts) > pageSize {
		data.Alerts = data.Alerts[:pageSize]
		next := f
		next.Before = data.Alerts[pageSize-1].ID
		data.Next = auth.ConsolePath + "/alerts?" + next.query().Encode()
	}
	c.render(w, http.StatusOK, "alerts", v)
}

// doneMessage is the notice after an action redirected back here.
func doneMessage(q url.Values) string {
	done := q.Get("done")
	if done == "" {
		return ""
	}
	what := map[string]string{"ack": "acknowledged", "resolve": "resolved", "reopen": "reopened", "assign": "assigned",
		"unassign": "unassigned", "comment": "commented on", "snooze": "snoozed", "unsnooze": "unsnoozed"}[done]
	if what == "" {
		return ""
	}
	if id := q.Get("alert"); id != "" {
		return "Alert " + id + " " + what + "."
	}
	return "Alert " + what + "."
}

// recordView is one record of an alert with its decision taken apart.
type recordView struct {
	alert.AlertRecord
	Decision decision.Decision
	Fields   []field
	Features []field
	Scores   []field
	BadJSON  string // why the stored decision could not be read, if it could not
}

type field struct {
	Name  string
	Value any
}

func fieldsOf(m map[string]any) []field {
	out := make([]field, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, field{k, m[k]})
	}
	return out
}

func newRecordView(r alert.AlertRecord) recordView {
	v := recordView{AlertRecord: r}
	if err := json.Unmarshal(r.Decision, &v.Decision); err != nil {
		v.BadJSON = "decision: " + err.Error()
	}
	var fields map[string]any
	if err := json.Unmarshal(r.Fields, &fields); err != nil && v.BadJSON == "" {
		v.BadJSON = "record: " + err.Error()
	}
	v.Fields = fieldsOf(fields)
	v.Features = fieldsOf(v.Decision.Features)
	scores := make(map[string]any, len(v.Decision.Scores))
	for k, s := range v.Decision.Scores {
		scores[k] = s
	}
	v.Scores = fieldsOf(scores)
	return v
}

// eventView is one audit event with a line saying what it changed.
type eventView struct {
	alert.Event
	Summary string
}

func newEventView(e alert.Event) eventView {
	v := eventView{Event: e}
	switch e.Kind {
	case alert.EventRepeated:
		var d alert.RepeatData
		if json.Unmarshal(e.Data, &d) == nil {
			v.Summary = fmt.Sprintf("record %s (hit %d): %s", d.RecordID, d.Count, d.Reason)
		}
	case alert.EventAutoAction:
		var d alert.AutoActionData
		if json.Unmarshal(e.Data, &d) == nil {
			v.Summary = fmt.Sprintf("%s %s", d.Action, d.Status)
			if d.HTTPStatus != 0 {
				v.Summary += fmt.Sprintf(" (HTTP %d)", d.HTTPStatus)
			}
			if d.Error != "" {
				v.Summary += ": " + d.Error
			}
		}
	case alert.EventEscalated, alert.EventGuardTripped:
		var d alert.NoticeData
		if json.Unmarshal(e.Data, &d) == nil {
			v.Summary = "told " + strings.Join(d.Notice.Receivers, ", ")
			if lvl := d.Notice.Labels[alert.LabelEscalationLevel]; lvl != "" {
				v.Summary = "level " + lvl + ": " + v.Summary
			}
		}
	default:
		var a alert.Alert
		if json.Unmarshal(e.Data, &a) != nil {
			break
		}
		switch e.Kind {
		case alert.EventRaised:
			v.Summary = a.Reason
		case alert.EventResolved:
			v.Summary = "as " + string(a.Resolution)
		case alert.EventAssigned:
			v.Summary = "to " + a.Assignee
		case alert.EventSnoozed:
			v.Summary = "until " + whenPtr(a.SnoozedUntil)
		case alert.EventDowngraded:
			v.Summary = "now asks for " + string(a.Action)
		}
	}
	return v
}

type detailData struct {
	Alert       alert.Alert
	Snoozed     bool
	Records     []recordView // newest first
	Events      []eventView  // oldest first
	Resolutions []alert.Resolution
	SilenceURL  string
	Now         time.Time
}

var resolutions = []alert.Resolution{alert.TruePositive, alert.FalsePositive, alert.Benign, alert.Duplicate}

func (c *Console) detail(w http.ResponseWriter, r *http.Request, s auth.Session) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		c.message(w, r, &s, http.StatusNotFound, "Not found", "No alert "+r.PathValue("id")+".")
		return
	}
	v := c.view(&s, "", "alerts", nil)
	v.Notice = doneMessage(r.URL.Query())
	c.renderDetail(w, r, id, http.StatusOK, v)
}

// renderDetail shows an alert as it is now, with v's notice or error.
func (c *Console) renderDetail(w http.ResponseWriter, r *http.Request, id int64, status int, v view) {
	ctx := r.Context()
	a, err := c.opts.Alerts.Get(ctx, id)
	var recs []alert.AlertRecord
	var events []alert.Event
	if err == nil {
		recs, err = c.opts.Alerts.Records(ctx, id)
	}
	if err == nil {
		events, err = c.opts.Alerts.Events(ctx, id)
	}
	switch {
	case errors.Is(err, alert.ErrNotFound):
		c.message(w, r, v.Session, http.StatusNotFound, "Not found", fmt.Sprintf("No alert %d.", id))
		return
	case err != nil:
		c.log.Error("console: reading an alert failed", "alert", id, "err", err)
		c.message(w, r, v.Session, http.StatusInternalServerError, "Error", "Reading alert "+strconv.FormatInt(id, 10)+" failed: "+err.Error())
		return
	}
	now := c.opts.Now()
	d := detailData{Alert: a, Snoozed: a.Snoozed(now), Resolutions: resolutions, Now: now}
	for i := len(recs) - 1; i >= 0; i-- {
		d.Records = append(d.Records, newRecordView(recs[i]))
	}
	for _, e := range events {
		d.Events = append(d.Events, newEventView(e))
	}
	sq := url.Values{"matcher": {fmt.Sprintf("rule=%q", a.Rule), fmt.Sprintf("entity=%q", a.Entity.Value)},
		"comment": {fmt.Sprintf("alert %d", a.ID)}}
	d.SilenceURL = auth.ConsolePath + "/silences?" + sq.Encode()
	v.Title, v.Data = fmt.Sprintf("Alert %d · %s", a.ID, a.Title), &d
	c.render(w, status, "alert", v)
}

// actionKinds are the actions the console posts, by path segment.
var actionKinds = map[string]alert.ActionKind{}

func init() {
	for _, k := range alert.ActionKinds() {
		actionKinds[string(k)] = k
	}
}

// formAction reads an action's form: its kind, the version the page
// showed, and what the kind needs.
func (c *Console) formAction(r *http.Request, kind alert.ActionKind, actor string) (alert.Action, error) {
	a := alert.Action{Kind: kind, Actor: actor, Comment: r.PostFormValue("comment"),
		Resolution: alert.Resolution(r.PostFormValue("resolution")), Assignee: strings.TrimSpace(r.PostFormValue("assignee"))}
	if v := r.PostFormValue("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return a, formError(fmt.Sprintf("version %q: want the version the page showed", v))
		}
		a.Version = n
	}
	if kind == alert.ActSnooze {
		until, err := snoozeUntil(r, c.opts.Now())
		if err != nil {
			return a, err
		}
		a.Until = until
	}
	return a, nil
}

// snoozeUntil reads a snooze's end: "for" a duration (4h, 1d), or "until"
// a UTC date and time from a datetime-local input.
func snoozeUntil(r *http.Request, now time.Time) (time.Time, error) {
	if until := r.PostFormValue("until"); until != "" {
		for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
			if t, err := time.ParseInLocation(layout, until, time.UTC); err == nil {
				return t, nil
			}
		}
		return time.Time{}, formError(fmt.Sprintf("until %q: want a date and time such as 2026-03-01T18:00 (UTC)", until))
	}
	d, err := sinceDuration(r.PostFormValue("for"))
	if err != nil {
		return time.Time{}, formError("snooze for: want a duration such as 4h or 1d")
	}
	return now.Add(d), nil
}

// act applies one action from a form, then goes back to the page it came
// from. A refused action shows the alert as it is now, with why: a 409 for
// a change someone else made first or a state that does not allow it.
func (c *Console) act(w http.ResponseWriter, r *http.Request, s auth.Session) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	kind, known := actionKinds[r.PathValue("action")]
	if err != nil || id < 1 || !known {
		c.message(w, r, &s, http.StatusNotFound, "Not found", "No such action: "+r.URL.Path)
		return
	}
	v := c.view(&s, "", "alerts", nil)
	act, err := c.formAction(r, kind, s.Name)
	if err == nil {
		_, err = c.opts.Alerts.Apply(r.Context(), id, act)
	}
	if err != nil {
		status := statusOf(err)
		if status == http.StatusInternalServerError {
			c.log.Error("console: alert action failed", "alert", id, "action", string(kind), "err", err)
		}
		if status == http.StatusNotFound {
			c.message(w, r, &s, status, "Not found", err.Error())
			return
		}
		v.Error = err.Error()
		if status == http.StatusConflict {
			v.Error += " — the page now shows the alert as it is."
		}
		c.renderDetail(w, r, id, status, v)
		return
	}
	back := localPath(r.PostFormValue("back"), fmt.Sprintf("%s/alerts/%d", auth.ConsolePath, id))
	sep := "?"
	if strings.Contains(back, "?") {
		sep = "&"
	}
	http.Redirect(w, r, back+sep+"done="+string(kind)+"&alert="+strconv.FormatInt(id, 10), http.StatusSeeOther)
}

// statusOf maps the alert service's errors as the API does.
func statusOf(err error) int {
	var te *alert.TransitionError
	switch {
	case errors.Is(err, alert.ErrNotFound):
		return http.StatusNotFound
	case errors.As(err, &te), errors.Is(err, alert.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, alert.ErrInvalid):
		return http.StatusBadRequest
	}
	if _, ok := errors.AsType[formError](err); ok {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// formError is a form the console itself refuses (HTTP 400).
type formError string

func (e formError) Error() string { return string(e) }

type bulkData struct {
	Kind    alert.ActionKind
	Results []alert.BulkResult
	Done    int
	Back    string
}

// bulk applies one action to the alerts ticked in the queue.
func (c *Console) bulk(w http.ResponseWriter, r *http.Request, s auth.Session) {
	kind, known := actionKinds[r.PostFormValue("action")]
	back := localPath(r.PostFormValue("back"), auth.ConsolePath+"/alerts")
	v := c.view(&s, "Bulk action", "alerts", nil)
	var ids []int64
	for _, raw := range r.PostForm["id"] {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || id < 1 {
			c.message(w, r, &s, http.StatusBadRequest, "Bad form", "id "+raw+": want an alert id")
			return
		}
		ids = append(ids, id)
	}
	if !known {
		c.message(w, r, &s, http.StatusBadRequest, "Bad form", "Choose an action for the selected alerts.")
		return
	}
	act, err := c.formAction(r, kind, s.Name)
	if err == nil {
		act.Version = 0 // versions belong to one alert each
		var results []alert.BulkResult
		if results, err = c.opts.Alerts.ApplyMany(r.Context(), ids, act); err == nil {
			d := bulkData{Kind: kind, Results: results, Back: back}
			for _, res := range results {
				if res.Err == nil {
					d.Done++
				}
			}
			v.Data = &d
			c.render(w, http.StatusOK, "bulk", v)
			return
		}
	}
	c.message(w, r, &s, statusOf(err), "Bulk action refused", err.Error())
}
