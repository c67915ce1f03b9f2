package server_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/decision"
)

type alertList struct {
	Alerts []alert.Alert `json:"alerts"`
}

type alertDetail struct {
	Alert   alert.Alert         `json:"alert"`
	Records []alert.AlertRecord `json:"records"`
	Events  []alert.Event       `json:"events"`
}

func alertIDs(as []alert.Alert) []int64 {
	ids := []int64{}
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	return ids
}

// TestAlertLifecycle follows alerts raised by decisions through the API:
// listed, read, acknowledged, resolved, with the audit trail and every
// refusal on the way.
func TestAlertLifecycle(t *testing.T) {
	s := newStack(t, stackConfig{})

	// The same card twice is one alert counting two; another card is another.
	s.decide(t, blockedCard)
	s.decide(t, strings.Replace(blockedCard, `"t-1"`, `"t-1b"`, 1))
	s.decide(t, otherBlockedCard)
	s.decide(t, clean)

	r := s.get(t, "/v1/alerts")
	wantStatus(t, "GET /v1/alerts", r, http.StatusOK)
	all := decodeAs[alertList](t, r).Alerts
	if len(all) != 2 {
		t.Fatalf("%d alerts, want 2: %s", len(all), r.body)
	}
	second, first := all[0], all[1] // newest first
	if first.Rule != "blocked_card" || first.Count != 2 || first.Status != alert.Open || first.Severity != decision.Critical ||
		first.Entity != (decision.Entity{Field: "card_id", Value: "ctok_7Hq2Lm9Xb4"}) || first.LastRecordID != "t-1b" {
		t.Errorf("first alert %+v, want blocked_card on ctok_7Hq2Lm9Xb4, open, count 2", first)
	}
	if second.Entity.Value != "ctok_Z81kPd03Rt" || second.Count != 1 || second.ID <= first.ID {
		t.Errorf("second alert %+v, want the other card, count 1, a later id", second)
	}

	t.Run("list filters", func(t *testing.T) {
		tests := []struct {
			query string
			want  []int64
		}{
			{"status=open", []int64{second.ID, first.ID}},
			{"status=resolved", nil},
			{"rule=blocked_card", []int64{second.ID, first.ID}},
			{"rule=large_payment", nil},
			{"severity=critical", []int64{second.ID, first.ID}},
			{"severity=low", nil},
			{"entity=card_id=ctok_7Hq2Lm9Xb4", []int64{first.ID}},
			{"limit=1", []int64{second.ID}},
			{fmt.Sprintf("limit=1&before=%d", second.ID), []int64{first.ID}},
		}
		for _, tt := range tests {
			r := s.get(t, "/v1/alerts?"+tt.query)
			wantStatus(t, tt.query, r, http.StatusOK)
			if !strings.Contains(string(r.body), `"alerts":[`) {
				t.Errorf("%s: alerts must be a list, even empty: %s", tt.query, r.body)
			}
			if got := alertIDs(decodeAs[alertList](t, r).Alerts); !slices.Equal(got, tt.want) {
				t.Errorf("%s: alerts %v, want %v", tt.query, got, tt.want)
			}
		}
	})

	t.Run("bad list queries", func(t *testing.T) {
		for query, field := range map[string]string{
			"limit=0": "limit", "limit=-3": "limit", "limit=ten": "limit", "before=x": "before",
			"status=closed": "status", "severity=severe": "severity",
		} {
			r := s.get(t, "/v1/alerts?"+query)
			wantStatus(t, query, r, http.StatusBadRequest)
			if e := decodeAs[apiError](t, r); !strings.Contains(e.Error, field) {
				t.Errorf("%s: error %q does not name %s", query, e.Error, field)
			}
		}
	})

	t.Run("read one", func(t *testing.T) {
		r := s.get(t, fmt.Sprintf("/v1/alerts/%d", first.ID))
		wantStatus(t, "GET alert", r, http.StatusOK)
		d := decodeAs[alertDetail](t, r)
		if d.Alert.ID != first.ID || d.Alert.Fingerprint != alert.Fingerprint("blocked_card", first.Entity) {
			t.Errorf("alert %+v, want %d with the rule+entity fingerprint", d.Alert, first.ID)
		}
		var recs []string
		for _, rec := range d.Records {
			recs = append(recs, rec.RecordID)
			if !strings.Contains(string(rec.Fields), `"card_id":"ctok_7Hq2Lm9Xb4"`) || !strings.Contains(string(rec.Decision), `"action":"block"`) {
				t.Errorf("record %s: fields %s decision %s, want the record and its decision", rec.RecordID, rec.Fields, rec.Decision)
			}
		}
		if !slices.Equal(recs, []string{"t-1", "t-1b"}) {
			t.Errorf("records %v, want t-1, t-1b", recs)
		}
		if got := eventKinds(d.Events); !slices.Equal(got, []string{"raised/vigil", "repeated/vigil"}) {
			t.Errorf("events %v, want raised and repeated by vigil", got)
		}
	})

	ack := fmt.Sprintf("/v1/alerts/%d/ack", first.ID)
	resolve := fmt.Sprintf("/v1/alerts/%d/resolve", first.ID)
	steps := []struct {
		name    string
		path    string
		body    string
		header  []string
		status  int
		message string                        // for refusals: what the error must say
		check   func(*testing.T, alert.Alert) // for changes: the alert after it
	}{
		{name: "ack without an actor", path: ack, body: `{"comment":"who am I"}`, status: 400, message: "actor"},
		{name: "ack with an unknown field", path: ack, body: `{"actor":"alice","colour":"red"}`, status: 400, message: `"colour"`},
		{name: "ack with a resolution", path: ack, body: `{"actor":"alice","resolution":"benign"}`, status: 400, message: `"resolution"`},
		{name: "ack with data after the body", path: ack, body: `{"actor":"alice"} {}`, status: 400, message: "after"},
		{name: "ack with malformed JSON", path: ack, body: `{"actor":`, status: 400, message: "body"},
		{name: "ack", path: ack, body: `{"actor":"alice","comment":"on it"}`, header: []string{"X-Vigil-Actor: mallory"}, status: 200,
			check: func(t *testing.T, a alert.Alert) {
				if a.Status != alert.Acknowledged || a.AckedBy != "alice" || a.AckedAt == nil || a.Comment != "on it" {
					t.Errorf("after ack: %+v, want acknowledged by alice (the body's actor wins)", a)
				}
			}},
		{name: "ack again", path: ack, body: `{"actor":"alice"}`, status: 409, message: "already acknowledged"},
		{name: "resolve without resolution", path: resolve, body: `{"actor":"bob"}`, status: 400, message: "resolution is required"},
		{name: "resolve with a made-up resolution", path: resolve, body: `{"actor":"bob","resolution":"fixed"}`, status: 400, message: "fixed"},
		{name: "resolve, actor from the header", path: resolve, body: `{"resolution":"true_positive","comment":"card confirmed stolen"}`,
			header: []string{"X-Vigil-Actor: bob"}, status: 200,
			check: func(t *testing.T, a alert.Alert) {
				if a.Status != alert.Resolved || a.Resolution != alert.TruePositive || a.ResolvedBy != "bob" || a.AckedBy != "alice" {
					t.Errorf("after resolve: %+v, want resolved true_positive by bob, still acked by alice", a)
				}
			}},
		{name: "resolve again", path: resolve, body: `{"actor":"bob","resolution":"benign"}`, status: 409, message: "already resolved"},
		{name: "ack a resolved alert", path: ack, body: `{"actor":"alice"}`, status: 409, message: "resolved"},
		{name: "unknown alert", path: "/v1/alerts/999999/ack", body: `{"actor":"alice"}`, status: 404, message: "not found"},
		{name: "unknown alert resolved", path: "/v1/alerts/999999/resolve", body: `{"actor":"a","resolution":"benign"}`, status: 404, message: "not found"},
		{name: "non-numeric id", path: "/v1/alerts/abc/ack", body: `{"actor":"alice"}`, status: 400, message: "alert id"},
		{name: "id zero", path: "/v1/alerts/0/resolve", body: `{"actor":"alice","resolution":"benign"}`, status: 400, message: "alert id"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := s.post(t, st.path, "application/json", st.body, st.header...)
			wantStatus(t, st.name, r, st.status)
			if st.check != nil {
				st.check(t, decodeAs[alert.Alert](t, r))
				return
			}
			if e := decodeAs[apiError](t, r); !strings.Contains(e.Error, st.message) {
				t.Errorf("error %q does not contain %q", e.Error, st.message)
			}
		})
	}

	t.Run("audit trail", func(t *testing.T) {
		d := decodeAs[alertDetail](t, s.get(t, fmt.Sprintf("/v1/alerts/%d", first.ID)))
		want := []string{"raised/vigil", "repeated/vigil", "acknowledged/alice", "resolved/bob"}
		if got := eventKinds(d.Events); !slices.Equal(got, want) {
			t.Fatalf("events %v, want %v", got, want)
		}
		if d.Events[2].Comment != "on it" || d.Events[3].Comment != "card confirmed stolen" {
			t.Errorf("event comments %q, %q", d.Events[2].Comment, d.Events[3].Comment)
		}
	})

	t.Run("ack with the header alone, no body", func(t *testing.T) {
		r := s.post(t, fmt.Sprintf("/v1/alerts/%d/ack", second.ID), "", "", "X-Vigil-Actor: carol")
		wantStatus(t, "ack", r, http.StatusOK)
		if a := decodeAs[alert.Alert](t, r); a.AckedBy != "carol" {
			t.Errorf("acked by %q, want carol", a.AckedBy)
		}
	})

	t.Run("read unknown or bad ids", func(t *testing.T) {
		wantStatus(t, "GET unknown alert", s.get(t, "/v1/alerts/999999"), http.StatusNotFound)
		wantStatus(t, "GET non-numeric id", s.get(t, "/v1/alerts/first"), http.StatusBadRequest)
		wantStatus(t, "GET negative id", s.get(t, "/v1/alerts/-1"), http.StatusBadRequest)
	})

	// After a resolve, the same card raises a new alert.
	t.Run("new alert after resolve", func(t *testing.T) {
		s.decide(t, strings.Replace(blockedCard, `"t-1"`, `"t-1c"`, 1))
		as := decodeAs[alertList](t, s.get(t, "/v1/alerts?status=open&entity=ctok_7Hq2Lm9Xb4")).Alerts
		if len(as) != 1 || as[0].ID == first.ID || as[0].Count != 1 || as[0].LastRecordID != "t-1c" {
			t.Errorf("open alerts on the card %+v, want a new one counting t-1c", as)
		}
	})
}

// eventKinds lists events as kind/actor.
func eventKinds(es []alert.Event) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, string(e.Kind)+"/"+e.Actor)
	}
	return out
}

func TestAlertsDisabled(t *testing.T) {
	s := newStack(t, stackConfig{noAlerts: true})
	if d := s.decide(t, blockedCard); d.Action != decision.Block {
		t.Errorf("decide without alerts: action %s, want block", d.Action)
	}
	wantStatus(t, "GET /v1/alerts without an alert service", s.get(t, "/v1/alerts"), http.StatusNotFound)
	wantStatus(t, "ack without an alert service", s.post(t, "/v1/alerts/1/ack", "", "", "X-Vigil-Actor: a"), http.StatusNotFound)
}

// With the alert store gone, a record that would raise an alert is a 503
// (try again), one that would not is still decided, and reads are a 500.
func TestAlertStoreDown(t *testing.T) {
	s := newStack(t, stackConfig{})
	s.decide(t, blockedCard)
	if err := s.db.Close(); err != nil {
		t.Fatal(err)
	}

	r := s.post(t, "/v1/decide", "application/json", otherBlockedCard)
	wantStatus(t, "decide with the store down", r, http.StatusServiceUnavailable)
	if e := decodeAs[apiError](t, r); !strings.Contains(e.Error, "alerts") || !strings.Contains(e.Error, "t-2") {
		t.Errorf("error %q should say the alerts of record t-2 failed", e.Error)
	}
	if d := s.decide(t, clean); d.Action != decision.Allow {
		t.Errorf("a clean record with the store down: %+v", d)
	}
	wantStatus(t, "batch with the store down", s.post(t, "/v1/records", "application/x-ndjson", clean+"\n"+otherBlockedCard+"\n"), http.StatusServiceUnavailable)

	r = s.get(t, "/v1/alerts")
	wantStatus(t, "list with the store down", r, http.StatusInternalServerError)
	if e := decodeAs[apiError](t, r); !strings.HasPrefix(e.Error, "alert store:") {
		t.Errorf("error %q should blame the alert store", e.Error)
	}
}
