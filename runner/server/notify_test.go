package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/route"
	"github.com/vigil-risk/vigil/runner/notify/silence"
	"github.com/vigil-risk/vigil/runner/record"
	"github.com/vigil-risk/vigil/runner/server"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// refusingChannel posts to a vendor server that refuses every message, as
// a robot with a revoked token does.
type refusingChannel struct{ url string }

func (c refusingChannel) Limits() notify.Limits { return notify.Limits{} }
func (c refusingChannel) Render(m *notify.Message) ([]notify.Payload, error) {
	b, err := json.Marshal(m.Alerts)
	return []notify.Payload{{Body: b, ContentType: "application/json", Part: 1, Parts: 1, IdempotencyKey: m.IdempotencyKey}}, err
}
func (c refusingChannel) Send(ctx context.Context, p notify.Payload) (bool, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(p.Body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return true, err
	}
	defer resp.Body.Close()
	var v struct {
		Errcode int    `json:"errcode"`
		Errmsg  string `json:"errmsg"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&v)
	if v.Errcode != 0 {
		return false, &notify.VendorError{Vendor: "dingtalk", Status: resp.StatusCode, Code: fmt.Sprint(v.Errcode), Message: v.Errmsg}
	}
	return false, nil
}

// notifyStack is the silence and notification API over a real dispatcher:
// SQLite in a temporary directory, an alert raised, and a receiver that
// refuses it.
func notifyStack(t *testing.T) (string, *notify.Dispatcher) {
	t.Helper()
	ctx := t.Context()
	db, err := sqldb.Open(ctx, filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store, err := alertsqlite.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	alerts, err := alert.NewService(store, alert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"errcode":300005,"errmsg":"token is not exist"}`)
	}))
	t.Cleanup(vendor.Close)
	tree, err := route.New(config.RouteConfig{GroupWait: new(time.Duration)}, route.Timers{GroupInterval: time.Minute, RepeatInterval: time.Hour}, []string{"ding"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := notify.NewDispatcher(ctx, db, []notify.Receiver{{Name: "ding", Channel: refusingChannel{vendor.URL}}}, notify.Options{Route: tree})
	if err != nil {
		t.Fatal(err)
	}
	rec := record.Record{ID: "t-1", Type: "payment", Time: time.Now(), Fields: map[string]any{"card_id": "c1"}}
	dec := decision.Decision{RecordID: "t-1", Action: decision.Block, Hits: []decision.Hit{{Rule: "card_testing", Severity: decision.High,
		Action: decision.Block, Reason: "6 small auths", Entity: &decision.Entity{Field: "card_id", Value: "c1"}}}}
	if _, err := alerts.Observe(ctx, rec, dec); err != nil {
		t.Fatal(err)
	}
	for _, step := range []func(context.Context) (int, error){d.FanOut, d.Flush, d.Deliver} {
		if _, err := step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(server.New(nil, server.Options{Silences: d.Silences(), Notifications: d}).Handler())
	t.Cleanup(srv.Close)
	return srv.URL, d
}

// call makes a request and decodes the JSON answer into out (if not nil).
func call(t *testing.T, method, url, body string, header map[string]string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, url, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

func TestSilencesAPI(t *testing.T) {
	url, _ := notifyStack(t)
	var created silence.Silence
	if code := call(t, "POST", url+"/v1/silences", `{"matchers":["entity=\"c1\"","severity=~\"high|critical\""],
		"duration":"2h","comment":"card under investigation"}`, map[string]string{"X-Vigil-Actor": "ana"}, &created); code != 201 {
		t.Fatalf("POST = %d", code)
	}
	if created.ID == "" || created.State != silence.Active || created.CreatedBy != "ana" ||
		created.EndsAt.Sub(created.StartsAt) != 2*time.Hour || len(created.Matchers) != 2 {
		t.Fatalf("created %+v", created)
	}
	var listed struct{ Silences []silence.Silence }
	if code := call(t, "GET", url+"/v1/silences?state=active", "", nil, &listed); code != 200 || len(listed.Silences) != 1 ||
		listed.Silences[0].ID != created.ID {
		t.Fatalf("GET active = %d %+v", code, listed)
	}
	var expired silence.Silence
	if code := call(t, "DELETE", url+"/v1/silences/"+created.ID+"?actor=bo", "", nil, &expired); code != 200 || expired.State != silence.Expired {
		t.Fatalf("DELETE = %d %+v", code, expired)
	}
	var detail struct {
		Silence silence.Silence
		Events  []silence.Event
	}
	if code := call(t, "GET", url+"/v1/silences/"+created.ID, "", nil, &detail); code != 200 || len(detail.Events) != 2 ||
		detail.Events[0].Actor != "ana" || detail.Events[1].Kind != silence.EventExpired || detail.Events[1].Actor != "bo" {
		t.Fatalf("GET one = %d %+v", code, detail)
	}
	for _, tc := range []struct {
		method, path, body string
		header             map[string]string
		code               int
		msg                string
	}{
		{"POST", "/v1/silences", `{"matchers":["entity=~(c1"],"duration":"1h","comment":"x","created_by":"ana"}`, nil, 400,
			"matchers[0]: matcher `entity=~(c1`: label entity: regular expression"},
		{"POST", "/v1/silences", `{"matchers":["entity=c1"],"duration":"1h","comment":"x"}`, nil, 400, "created_by: required"},
		{"POST", "/v1/silences", `{"matchers":["entity=c1"],"comment":"x","created_by":"ana"}`, nil, 400, "ends_at: required"},
		{"POST", "/v1/silences", `{"matchers":["entity=c1"],"duration":"soon","comment":"x","created_by":"ana"}`, nil, 400, "duration"},
		{"POST", "/v1/silences", `{"matcher":["entity=c1"]}`, nil, 400, `unknown field "matcher"`},
		{"DELETE", "/v1/silences/" + created.ID, "", map[string]string{"X-Vigil-Actor": "bo"}, 409, "it expired at"},
		{"DELETE", "/v1/silences/nope", "", map[string]string{"X-Vigil-Actor": "bo"}, 404, "not found"},
		{"DELETE", "/v1/silences/" + created.ID, "", nil, 400, "actor is required"},
		{"GET", "/v1/silences?state=gone", "", nil, 400, `state "gone"`},
		{"GET", "/v1/silences/nope", "", nil, 404, "not found"},
	} {
		var e struct{ Error string }
		if code := call(t, tc.method, url+tc.path, tc.body, tc.header, &e); code != tc.code || !strings.Contains(e.Error, tc.msg) {
			t.Errorf("%s %s %s = %d %q, want %d saying %q", tc.method, tc.path, tc.body, code, e.Error, tc.code, tc.msg)
		}
	}
}

func TestNotificationsAPI(t *testing.T) {
	url, _ := notifyStack(t)
	var failed struct{ Notifications []notify.Notification }
	if code := call(t, "GET", url+"/v1/notifications?status=failed", "", nil, &failed); code != 200 || len(failed.Notifications) != 1 {
		t.Fatalf("GET failed = %d %+v", code, failed)
	}
	n := failed.Notifications[0]
	if n.Receiver != "ding" || n.Status != notify.Failed || n.Alerts != 1 || n.LastError != "dingtalk HTTP 200 code 300005: token is not exist" {
		t.Errorf("dead letter = %+v", n)
	}
	var one notify.Notification
	if code := call(t, "GET", url+fmt.Sprintf("/v1/notifications/%d", n.ID), "", nil, &one); code != 200 || one.Message == nil ||
		len(one.Message.Alerts) != 1 || one.Message.Alerts[0].Entity.Value != "c1" {
		t.Errorf("GET one = %d %+v", code, one)
	}
	var none struct{ Notifications []notify.Notification }
	if code := call(t, "GET", url+"/v1/notifications?status=delivered", "", nil, &none); code != 200 || none.Notifications == nil || len(none.Notifications) != 0 {
		t.Errorf("GET delivered = %d %+v", code, none)
	}
	for _, tc := range []struct {
		path string
		code int
		msg  string
	}{
		{"/v1/notifications?status=sent", 400, `status "sent"`},
		{"/v1/notifications?limit=-1", 400, "limit"},
		{"/v1/notifications?before=x", 400, "before"},
		{"/v1/notifications/999", 404, "not found"},
		{"/v1/notifications/x", 400, "notification id"},
	} {
		var e struct{ Error string }
		if code := call(t, "GET", url+tc.path, "", nil, &e); code != tc.code || !strings.Contains(e.Error, tc.msg) {
			t.Errorf("GET %s = %d %q, want %d saying %q", tc.path, code, e.Error, tc.code, tc.msg)
		}
	}
}
