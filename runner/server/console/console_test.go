package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/notify/silence"
	"github.com/vigil-risk/vigil/runner/server/auth"
	"github.com/vigil-risk/vigil/runner/server/console"
)

// firstAlert is the newest alert in the store.
func (s *stack) firstAlert(t *testing.T) alert.Alert {
	t.Helper()
	as, err := s.alerts.List(t.Context(), alert.Filter{Limit: 10})
	if err != nil || len(as) == 0 {
		t.Fatalf("alerts: %v %v", as, err)
	}
	return as[0]
}

func (s *stack) alert(t *testing.T, id int64) alert.Alert {
	t.Helper()
	a, err := s.alerts.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestPagesByRole(t *testing.T) {
	s := newStack(t)
	s.decide(t, blockedCard)
	a := s.firstAlert(t)
	alertPath := fmt.Sprintf("/console/alerts/%d", a.ID)
	pages := []string{"/console/alerts", alertPath, "/console/rules", "/console/live", "/console/admin"}
	tests := []struct {
		token   string
		status  map[string]int // default 200
		actions bool           // the alert page shows action forms
	}{
		{adminToken, nil, true},
		{analystToken, map[string]int{"/console/admin": http.StatusForbidden}, true},
		{viewerToken, map[string]int{"/console/admin": http.StatusForbidden}, false},
	}
	for _, tt := range tests {
		b := s.browser(t)
		b.login(tt.token)
		for _, path := range pages {
			want := http.StatusOK
			if st, ok := tt.status[path]; ok {
				want = st
			}
			p := b.get(path)
			if p.status != want {
				t.Errorf("%s GET %s: %d, want %d\n%s", tt.token, path, p.status, want, p.body)
			}
		}
		p := b.get(alertPath)
		if got := strings.Contains(p.body, `id="ack-form"`); got != tt.actions {
			t.Errorf("%s: ack form shown %v, want %v", tt.token, got, tt.actions)
		}
		for _, want := range []string{"blocked_card", a.Entity.Value, "Audit timeline", "raised", "is on the blocked-card list",
			"<h3>Features</h3>", "<h3>Scores</h3>", "fraud_lr"} {
			if !strings.Contains(p.body, want) {
				t.Errorf("%s: alert page lacks %q", tt.token, want)
			}
		}
	}
}

func TestLoginRequired(t *testing.T) {
	s := newStack(t)
	b := s.browser(t)
	tests := []struct {
		method, path string
		status       int
		location     string
	}{
		{http.MethodGet, "/console/alerts", http.StatusSeeOther, "/console/login?next=%2Fconsole%2Falerts"},
		{http.MethodGet, "/console/rules", http.StatusSeeOther, "/console/login?next=%2Fconsole%2Frules"},
		{http.MethodGet, "/console/", http.StatusFound, "/console/alerts"},
		{http.MethodPost, "/console/alerts/1/ack", http.StatusUnauthorized, ""},
	}
	for _, tt := range tests {
		var p page
		if tt.method == http.MethodGet {
			p = b.get(tt.path)
		} else {
			p = b.post(tt.path, url.Values{})
		}
		if p.status != tt.status || p.location != tt.location {
			t.Errorf("%s %s: %d %q, want %d %q", tt.method, tt.path, p.status, p.location, tt.status, tt.location)
		}
	}
	// A bad token is refused on the login page.
	lp := b.get("/console/login")
	p := b.post("/console/login", url.Values{"csrf": {csrf(t, lp)}, "token": {"nope"}})
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "Unknown token") {
		t.Errorf("bad token: %d %s", p.status, p.body)
	}
	// A login without the form's nonce is refused.
	p = b.post("/console/login", url.Values{"token": {analystToken}})
	if p.status != http.StatusForbidden {
		t.Errorf("login without csrf: %d", p.status)
	}
}

func TestQueueFilters(t *testing.T) {
	s := newStack(t)
	s.decide(t, blockedCard)
	s.decide(t, otherBlockedCard)
	b := s.browser(t)
	b.login(viewerToken)
	as, _ := s.alerts.List(t.Context(), alert.Filter{Limit: 10})
	if len(as) < 2 {
		t.Fatalf("want 2 alerts, got %d", len(as))
	}
	tests := []struct {
		query  string
		status int
		rows   int
	}{
		{"", http.StatusOK, len(as)},
		{"?status=any", http.StatusOK, len(as)},
		{"?status=resolved", http.StatusOK, 0},
		{"?severity=critical&rule=blocked_card", http.StatusOK, len(as)},
		{"?severity=low", http.StatusOK, 0},
		{"?entity=" + url.QueryEscape(as[0].Entity.Value), http.StatusOK, 1},
		{"?assignee=-", http.StatusOK, len(as)},
		{"?assignee=nobody", http.StatusOK, 0},
		{"?since=1h", http.StatusOK, len(as)},
		{"?since=forever", http.StatusBadRequest, 0},
		{"?before=x", http.StatusBadRequest, 0},
	}
	for _, tt := range tests {
		p := b.get("/console/alerts" + tt.query)
		if p.status != tt.status {
			t.Errorf("%s: status %d, want %d", tt.query, p.status, tt.status)
			continue
		}
		if got := strings.Count(p.body, `class="alert-row`); got != tt.rows {
			t.Errorf("%s: %d rows, want %d", tt.query, got, tt.rows)
		}
	}
	if p := b.get("/console/alerts?since=forever"); !strings.Contains(p.body, "since") {
		t.Errorf("a bad filter does not name the field: %s", p.body)
	}
}

func TestAlertActions(t *testing.T) {
	s := newStack(t)
	s.decide(t, blockedCard)
	a := s.firstAlert(t)
	base := fmt.Sprintf("/console/alerts/%d", a.ID)
	b := s.browser(t)
	token := b.login(analystToken)
	form := func(kv ...string) url.Values {
		v := url.Values{"csrf": {token}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	steps := []struct {
		name     string
		action   string
		form     url.Values
		status   int
		contains string // on the refusal page
		check    func(alert.Alert) bool
	}{
		{"ack", "ack", form("version", strconv.Itoa(a.Version), "comment", "looking"), http.StatusSeeOther, "",
			func(a alert.Alert) bool { return a.Status == alert.Acknowledged && a.AckedBy == "ana" }},
		{"stale version", "assign", form("version", strconv.Itoa(a.Version), "assignee", "bo"), http.StatusConflict, "the page now shows the alert as it is",
			func(a alert.Alert) bool { return a.Assignee == "" }},
		{"no csrf", "comment", url.Values{"comment": {"x"}}, http.StatusForbidden, "Form expired", nil},
		{"wrong csrf", "comment", url.Values{"csrf": {"forged"}, "comment": {"x"}}, http.StatusForbidden, "Form expired", nil},
		{"resolve without label", "resolve", form(), http.StatusBadRequest, "resolution", nil},
		{"unknown action", "explode", form(), http.StatusNotFound, "No such action", nil},
		{"comment", "comment", form("comment", "card blocked at issuer"), http.StatusSeeOther, "", nil},
		{"resolve", "resolve", form("resolution", "false_positive", "comment", "test card"), http.StatusSeeOther, "",
			func(a alert.Alert) bool {
				return a.Status == alert.Resolved && a.Resolution == alert.FalsePositive && a.ResolvedBy == "ana"
			}},
		{"resolve twice", "resolve", form("resolution", "benign"), http.StatusConflict, "cannot", nil},
	}
	for _, st := range steps {
		p := b.post(base+"/"+st.action, st.form)
		if p.status != st.status {
			t.Fatalf("%s: %d, want %d\n%s", st.name, p.status, st.status, p.body)
		}
		if st.contains != "" && !strings.Contains(p.body, st.contains) {
			t.Errorf("%s: page lacks %q:\n%s", st.name, st.contains, p.body)
		}
		if st.status == http.StatusSeeOther && !strings.HasPrefix(p.location, base+"?done="+st.action) {
			t.Errorf("%s: redirected to %q", st.name, p.location)
		}
		if st.check != nil && !st.check(s.alert(t, a.ID)) {
			t.Errorf("%s: alert is now %+v", st.name, s.alert(t, a.ID))
		}
	}
	p := b.get(base)
	for _, want := range []string{"acknowledged", "commented", "resolved", "as false_positive", "card blocked at issuer", `id="reopen-form"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("alert page lacks %q", want)
		}
	}
	// The viewer may look but not act.
	v := s.browser(t)
	vt := v.login(viewerToken)
	if p := v.post(base+"/reopen", url.Values{"csrf": {vt}}); p.status != http.StatusForbidden || !strings.Contains(p.body, "may not") {
		t.Errorf("viewer reopen: %d %s", p.status, p.body)
	}
	if s.alert(t, a.ID).Status != alert.Resolved {
		t.Error("the viewer's reopen changed the alert")
	}
}

func TestBulk(t *testing.T) {
	s := newStack(t)
	s.decide(t, blockedCard)
	s.decide(t, otherBlockedCard)
	as, _ := s.alerts.List(t.Context(), alert.Filter{Limit: 10})
	b := s.browser(t)
	token := b.login(analystToken)
	p := b.post("/console/alerts/bulk", url.Values{"csrf": {token}, "action": {"ack"}, "back": {"/console/alerts"},
		"id": {strconv.FormatInt(as[0].ID, 10), strconv.FormatInt(as[1].ID, 10)}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "2 of 2 done") {
		t.Fatalf("bulk ack: %d %s", p.status, p.body)
	}
	for _, a := range as[:2] {
		if got := s.alert(t, a.ID); got.Status != alert.Acknowledged {
			t.Errorf("alert %d: %s", a.ID, got.Status)
		}
	}
	if p := b.post("/console/alerts/bulk", url.Values{"csrf": {token}, "id": {"1"}}); p.status != http.StatusBadRequest {
		t.Errorf("bulk without an action: %d", p.status)
	}
}

func TestRulesPage(t *testing.T) {
	s := newStack(t)
	s.decide(t, blockedCard)
	a := s.firstAlert(t)
	if _, err := s.alerts.Resolve(t.Context(), a.ID, "ana", alert.TruePositive, ""); err != nil {
		t.Fatal(err)
	}
	b := s.browser(t)
	b.login(viewerToken)
	p := b.get("/console/rules")
	row := p.body[strings.Index(p.body, `data-rule="blocked_card"`):]
	row = row[:strings.Index(row, "</tr>")]
	for _, want := range []string{`<td class="num hits">1</td>`, `<td class="num precision">100%</td>`} {
		if !strings.Contains(row, want) {
			t.Errorf("blocked_card row lacks %q:\n%s", want, row)
		}
	}
}

func TestChatLink(t *testing.T) {
	s := newStack(t)
	s.decide(t, blockedCard)
	s.decide(t, otherBlockedCard)
	as, _ := s.alerts.List(t.Context(), alert.Filter{Limit: 10})
	ackTok, err := s.auth.SignLink(as[0].ID, auth.LinkAck, "oncall-alice")
	if err != nil {
		t.Fatal(err)
	}
	b := s.browser(t) // no session: a link needs none
	confirm := b.get("/console/act?t=" + ackTok)
	if confirm.status != http.StatusOK || !strings.Contains(confirm.body, "Acknowledge alert") || !strings.Contains(confirm.body, "oncall-alice") {
		t.Fatalf("confirmation page: %d %s", confirm.status, confirm.body)
	}
	if s.alert(t, as[0].ID).Status != alert.Open {
		t.Fatal("GET acted")
	}
	token := csrf(t, confirm)
	if p := b.post("/console/act", url.Values{"t": {ackTok}, "csrf": {"forged"}}); p.status != http.StatusForbidden {
		t.Errorf("forged csrf: %d", p.status)
	}
	p := b.post("/console/act", url.Values{"t": {ackTok}, "csrf": {token}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "acknowledged") {
		t.Fatalf("use: %d %s", p.status, p.body)
	}
	if got := s.alert(t, as[0].ID); got.Status != alert.Acknowledged || got.AckedBy != "oncall-alice" {
		t.Fatalf("after the link: %+v", got)
	}

	altered := []byte(ackTok)
	altered[len(altered)/2] ^= 1
	resolveTok, _ := s.auth.SignLink(as[1].ID, auth.LinkResolve, "oncall-bob")
	tests := []struct {
		name   string
		do     func() page
		status int
		want   string
	}{
		{"reused GET", func() page { return b.get("/console/act?t=" + ackTok) }, http.StatusGone, "already used by oncall-alice"},
		{"reused POST", func() page { return b.post("/console/act", url.Values{"t": {ackTok}, "csrf": {token}}) }, http.StatusGone, "already used"},
		{"altered", func() page { return b.get("/console/act?t=" + string(altered)) }, http.StatusBadRequest, "not valid"},
		{"empty", func() page { return b.get("/console/act") }, http.StatusBadRequest, "not valid"},
		{"resolve without label", func() page {
			return b.post("/console/act", url.Values{"t": {resolveTok}, "csrf": {csrf(t, b.get("/console/act/"+resolveTok))}})
		}, http.StatusBadRequest, "resolution"},
		{"expired", func() page { s.clock.Add(25 * time.Hour); return b.get("/console/act?t=" + resolveTok) }, http.StatusGone, "expired"},
	}
	for _, tt := range tests {
		p := tt.do()
		if p.status != tt.status || !strings.Contains(p.body, tt.want) {
			t.Errorf("%s: %d, want %d with %q:\n%s", tt.name, p.status, tt.status, tt.want, p.body)
		}
	}
	if got := s.alert(t, as[1].ID); got.Status != alert.Open {
		t.Errorf("refused links changed alert %d: %s", as[1].ID, got.Status)
	}
}

func TestResolveLink(t *testing.T) {
	s := newStack(t)
	s.decide(t, blockedCard)
	a := s.firstAlert(t)
	tok, _ := s.auth.SignLink(a.ID, auth.LinkResolve, "oncall-bob")
	b := s.browser(t)
	confirm := b.get("/console/act/" + tok)
	p := b.post("/console/act/"+tok, url.Values{"csrf": {csrf(t, confirm)}, "resolution": {"true_positive"}})
	if p.status != http.StatusOK {
		t.Fatalf("resolve link: %d %s", p.status, p.body)
	}
	got := s.alert(t, a.ID)
	if got.Status != alert.Resolved || got.Resolution != alert.TruePositive || got.ResolvedBy != "oncall-bob" {
		t.Errorf("after the link: %+v", got)
	}
	events, _ := s.alerts.Events(t.Context(), a.ID)
	if last := events[len(events)-1]; last.Actor != "oncall-bob" || last.Kind != alert.EventResolved {
		t.Errorf("last event %+v", last)
	}
}

func TestSecurityHeaders(t *testing.T) {
	s := newStack(t)
	b := s.browser(t)
	p := b.get("/console/login")
	req, _ := http.NewRequest(http.MethodGet, s.url+"/console/login", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for h, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("CSP %q", resp.Header.Get("Content-Security-Policy"))
	}
	for _, path := range []string{"/console/static/console.css", "/console/static/console.js"} {
		if p = b.get(path); p.status != http.StatusOK || len(p.body) < 100 {
			t.Errorf("%s: %d", path, p.status)
		}
	}
}

// The live page streams decisions with hits as server-sent events.
func TestLiveStream(t *testing.T) {
	s := newStack(t)
	b := s.browser(t)
	b.login(viewerToken)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/console/stream", nil)
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := bufio.NewReader(resp.Body)
	if first, err := lines.ReadString('\n'); err != nil || !strings.HasPrefix(first, ":") {
		t.Fatalf("first line %q %v", first, err)
	}
	s.decide(t, blockedCard) // the stream is open: this decision reaches it
	var event string
	for {
		line, err := lines.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		if strings.HasPrefix(line, "event: ") {
			event = strings.TrimSpace(strings.TrimPrefix(line, "event: "))
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok && event == "decision" {
			var e console.StreamEvent
			if err := json.Unmarshal([]byte(data), &e); err != nil {
				t.Fatal(err)
			}
			if e.RecordID != "t-1" || e.Action != "block" || len(e.Hits) != 1 || e.Hits[0].Rule != "blocked_card" {
				t.Errorf("streamed %+v", e)
			}
			break
		}
	}
	if p := b.get("/console/live"); p.status != http.StatusOK || !strings.Contains(p.body, "<code>t-1</code>") {
		t.Errorf("live page: %d, lacks the recent decision", p.status)
	}
}

// An analyst creates a silence from an alert's prefilled link and expires
// it; a bad matcher is refused naming the field; a viewer may only look.
func TestSilencesPage(t *testing.T) {
	s := newStack(t)
	s.decide(t, blockedCard)
	a := s.firstAlert(t)
	b := s.browser(t)
	token := b.login(analystToken)
	detail := b.get(fmt.Sprintf("/console/alerts/%d", a.ID))
	i := strings.Index(detail.body, `href="/console/silences?`)
	if i < 0 {
		t.Fatalf("no silence link on the alert page")
	}
	link := detail.body[i+len(`href="`):]
	link = html.UnescapeString(link[:strings.Index(link, `"`)])
	prefilled := b.get(link)
	if !strings.Contains(prefilled.body, "rule=&#34;blocked_card&#34;") {
		t.Fatalf("the form is not prefilled with the rule:\n%s", prefilled.body)
	}
	tests := []struct {
		form   url.Values
		status int
		want   string
	}{
		{url.Values{"csrf": {token}, "matchers": {"rule=~(\n"}, "duration": {"4h"}, "comment": {"x"}}, http.StatusBadRequest, "matchers"},
		{url.Values{"csrf": {token}, "matchers": {`rule="blocked_card"`}, "duration": {"forever"}, "comment": {"x"}}, http.StatusBadRequest, "duration"},
		{url.Values{"csrf": {token}, "matchers": {`rule="blocked_card"`}, "duration": {"4h"}, "comment": {"card reissued"}}, http.StatusSeeOther, ""},
	}
	for _, tt := range tests {
		p := b.post("/console/silences", tt.form)
		if p.status != tt.status || !strings.Contains(p.body, tt.want) {
			t.Errorf("%v: %d, want %d with %q:\n%s", tt.form, p.status, tt.status, tt.want, p.body)
		}
	}
	list, err := s.silences.List(t.Context(), silence.Filter{})
	if err != nil || len(list) != 1 || list[0].CreatedBy != "ana" || list[0].Comment != "card reissued" {
		t.Fatalf("silences: %+v %v", list, err)
	}
	v := s.browser(t)
	vt := v.login(viewerToken)
	if p := v.get("/console/silences"); p.status != http.StatusOK || !strings.Contains(p.body, "card reissued") || strings.Contains(p.body, "Expire</button>") {
		t.Errorf("viewer's silences page: %d", p.status)
	}
	if p := v.post("/console/silences/"+list[0].ID+"/expire", url.Values{"csrf": {vt}}); p.status != http.StatusForbidden {
		t.Errorf("viewer expire: %d", p.status)
	}
	if p := b.post("/console/silences/"+list[0].ID+"/expire", url.Values{"csrf": {token}}); p.status != http.StatusSeeOther {
		t.Errorf("expire: %d %s", p.status, p.body)
	}
	if got, _ := s.silences.List(t.Context(), silence.Filter{State: silence.Active}); len(got) != 0 {
		t.Errorf("still active: %+v", got)
	}
}
