package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/record"
	"github.com/vigil-risk/vigil/runner/server"
)

func TestDecide(t *testing.T) {
	s := newStack(t, stackConfig{})
	revision := s.engine.Current().Revision
	tests := []struct {
		name        string
		contentType string
		body        string
		action      decision.Action
		score       int
		hits        []string
		shadow      []string
	}{
		{"blocked card", "application/json", blockedCard, decision.Block, 100, []string{"blocked_card"}, []string{}},
		{"clean payment", "application/json", clean, decision.Allow, 0, []string{}, []string{}},
		{"several hits take the strongest action", "application/json",
			`{"id":"multi-card-1","ts":"2026-03-08T18:22:00Z","type":"payment","customer_id":"cus-7002","card_id":"ctok_M3n4B5v6C7",
			  "card_bin":"555555","amount":6000,"currency":"EUR","mcc":"7995","channel":"ecom","merchant_id":"m-casino-9",
			  "card_country":"DE","ip_country":"NG","email":"lucky.winner@yopmail.com"}`,
			decision.Review, 100, []string{"card_ip_country_mismatch", "disposable_email", "high_risk_mcc", "large_payment"}, []string{"high_risk_bin"}},
		{"shadow hit only", "application/json",
			`{"id":"sh-bin-1","ts":"2026-03-07T12:00:00Z","type":"payment","customer_id":"cus-6002","card_id":"ctok_p0O9i8U7y6",
			  "card_bin":"41111187","amount":35,"currency":"EUR","mcc":"5812","channel":"pos","card_country":"DE"}`,
			decision.Allow, 0, []string{}, []string{"high_risk_bin"}},
		// curl -d sends a form type; a BOM, pretty printing and aliases are fine.
		{"curl's default type, BOM, pretty-printed, aliases", "application/x-www-form-urlencoded",
			"\uFEFF{\n  \"transaction_id\": \"t-9\",\n  \"timestamp\": 1772359200,\n  \"type\": \" PAYMENT \",\n  \"card\": \"ctok_7Hq2Lm9Xb4\",\n  \"amount\": \"12.50\"\n}\n",
			decision.Block, 100, []string{"blocked_card"}, []string{}},
		{"no content type", "", clean, decision.Allow, 0, []string{}, []string{}},
		{"charset utf-8", "application/json; charset=UTF-8", clean, decision.Allow, 0, []string{}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.post(t, "/v1/decide", tt.contentType, tt.body)
			wantStatus(t, "decide", r, http.StatusOK)
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			d := decodeAs[decision.Decision](t, r)
			if d.Action != tt.action || d.Score != tt.score {
				t.Errorf("action %s score %d, want %s %d", d.Action, d.Score, tt.action, tt.score)
			}
			if got := hitRules(d.Hits); !slices.Equal(got, tt.hits) {
				t.Errorf("hits %v, want %v", got, tt.hits)
			}
			if got := hitRules(d.ShadowHits); !slices.Equal(got, tt.shadow) {
				t.Errorf("shadow hits %v, want %v", got, tt.shadow)
			}
			if d.PolicyRevision != revision || d.RunnerVersion != runnerVersion {
				t.Errorf("policy_revision %q runner_version %q, want %q %q", d.PolicyRevision, d.RunnerVersion, revision, runnerVersion)
			}
			if d.Source != "http" || d.RecordID == "" || d.Time.IsZero() {
				t.Errorf("source %q record_id %q ts %v: want http, the record's id and time", d.Source, d.RecordID, d.Time)
			}
			// Empty hit lists are [] on the wire, never null.
			for _, key := range []string{`"hits":[`, `"shadow_hits":[`} {
				if !bytes.Contains(r.body, []byte(key)) {
					t.Errorf("reply lacks %s: %s", key, r.body)
				}
			}
		})
	}

	t.Run("hit fields", func(t *testing.T) {
		d := s.decide(t, blockedCard)
		if len(d.Hits) != 1 {
			t.Fatalf("hits %+v, want one", d.Hits)
		}
		h := d.Hits[0]
		if h.Rule != "blocked_card" || h.Title != "Blocked card" || h.Severity != decision.Critical || h.Action != decision.Block {
			t.Errorf("hit %+v, want blocked_card, Blocked card, critical, block", h)
		}
		if !strings.Contains(h.Reason, "ctok_7Hq2Lm9Xb4 is on the blocked-card list") {
			t.Errorf("reason %q does not name the card and the list", h.Reason)
		}
		if h.Entity == nil || *h.Entity != (decision.Entity{Field: "card_id", Value: "ctok_7Hq2Lm9Xb4"}) {
			t.Errorf("entity %+v, want card_id=ctok_7Hq2Lm9Xb4", h.Entity)
		}
		if d.RecordID != "t-1" || d.RecordType != "payment" || d.Time.Format("2006-01-02T15:04:05Z07:00") != "2026-03-01T10:00:00Z" {
			t.Errorf("record_id %q type %q ts %v", d.RecordID, d.RecordType, d.Time)
		}
	})
}

// Every bad request is refused with a message that says what is wrong, and
// takes nothing else down: a good record right after it is decided.
func TestDecideBadInput(t *testing.T) {
	const maxBody = 2048
	s := newStack(t, stackConfig{
		record: record.Options{Unknown: record.UnknownReject},
		server: server.Options{MaxBodyBytes: maxBody},
	})
	big := `{"id":"big","ts":"2026-03-01T10:00:00Z","type":"payment","user_agent":"` + strings.Repeat("x", maxBody) + `"}`
	tests := []struct {
		name        string
		contentType string
		header      []string
		body        string
		status      int
		fields      []string // fields the reply must name
		message     string   // text the error message must hold
		deadLetter  bool     // the record is dead-lettered
	}{
		{name: "malformed JSON", body: `{"id":"t-1","ts":`, status: 400, message: "malformed JSON", deadLetter: true},
		{name: "wrong type", body: `{"id":"t-1","ts":"2026-03-01T10:00:00Z","type":"payment","amount":"abc"}`,
			status: 400, fields: []string{"amount"}, message: `field "amount"`, deadLetter: true},
		{name: "missing required field", body: `{"id":"t-1","type":"payment","amount":1}`,
			status: 400, fields: []string{"ts"}, message: `field "ts"`, deadLetter: true},
		{name: "enum violation", body: `{"id":"t-1","ts":"2026-03-01T10:00:00Z","type":"teleport"}`,
			status: 400, fields: []string{"type"}, message: "teleport", deadLetter: true},
		{name: "unknown field rejected", body: `{"id":"t-1","ts":"2026-03-01T10:00:00Z","type":"payment","colour":"red"}`,
			status: 400, fields: []string{"colour"}, deadLetter: true},
		{name: "several problems at once", body: `{"id":"t-1","type":"payment","amount":-5,"currency":"euro"}`,
			status: 400, fields: []string{"amount", "currency", "ts"}, deadLetter: true},
		{name: "array of one record", body: "[" + blockedCard + "]", status: 400, message: "one JSON object"},
		{name: "empty array", body: "[]", status: 400, message: "one JSON object"},
		{name: "not an object", body: `"t-1"`, status: 400, message: "one JSON object"},
		{name: "two objects", body: blockedCard + "\n" + clean, status: 400, message: "exactly one JSON object"},
		{name: "data after the object", body: blockedCard + " garbage", status: 400, message: "exactly one JSON object"},
		{name: "empty body", body: "", status: 400, message: "empty body"},
		{name: "blank body", body: " \r\n\t", status: 400, message: "empty body"},
		{name: "CSV type", contentType: "text/csv", body: "id,ts,type\nt-1,2026-03-01T10:00:00Z,payment\n", status: 415, message: "/v1/records"},
		{name: "JSONL type", contentType: "application/x-ndjson", body: blockedCard, status: 415, message: "/v1/records"},
		{name: "unsupported type", contentType: "image/png", body: blockedCard, status: 415, message: "image/png"},
		{name: "malformed type", contentType: "application/json/x", body: blockedCard, status: 415, message: "Content-Type"},
		{name: "other charset", contentType: "application/json; charset=iso-8859-1", body: blockedCard, status: 415, message: "charset"},
		{name: "compressed", header: []string{"Content-Encoding: gzip"}, body: blockedCard, status: 415, message: "gzip"},
		{name: "oversized", body: big, status: 413, message: "server.max_body_bytes"},
	}
	good := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(s.readDeadLetters(t))
			r := s.post(t, "/v1/decide", tt.contentType, tt.body, tt.header...)
			wantStatus(t, "bad request", r, tt.status)
			e := decodeAs[apiError](t, r)
			if !strings.Contains(e.Error, tt.message) {
				t.Errorf("error %q does not contain %q", e.Error, tt.message)
			}
			if got := e.fields(); tt.fields != nil && !slices.Equal(sorted(got), tt.fields) {
				t.Errorf("fields %v, want %v (%s)", got, tt.fields, r.body)
			}
			for _, f := range tt.fields {
				if !strings.Contains(e.Error, f) {
					t.Errorf("error %q does not name field %s", e.Error, f)
				}
			}
			dls := s.readDeadLetters(t)[before:]
			switch {
			case tt.deadLetter && len(dls) != 1:
				t.Errorf("%d dead letters, want 1", len(dls))
			case tt.deadLetter && (dls[0].Source != "http" || dls[0].Raw != strings.TrimSpace(tt.body) || len(dls[0].Errors) == 0):
				t.Errorf("dead letter %+v: want source http, the raw record and its errors", dls[0])
			case !tt.deadLetter && len(dls) != 0:
				t.Errorf("dead letters %+v, want none for a request that holds no record", dls)
			}

			good++
			d := s.decide(t, fmt.Sprintf(`{"id":"good-%d","ts":"2026-03-01T10:00:00Z","type":"payment","card_id":"ctok_7Hq2Lm9Xb4","amount":1}`, good))
			if d.Action != decision.Block || d.RecordID != fmt.Sprintf("good-%d", good) {
				t.Errorf("the good record after it: %+v", d)
			}
		})
	}

	// The limit holds when the length is not announced, too.
	t.Run("oversized chunked", func(t *testing.T) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.url+"/v1/decide", io.MultiReader(strings.NewReader(big)))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = -1
		r := s.send(t, req)
		wantStatus(t, "chunked body over the limit", r, http.StatusRequestEntityTooLarge)
		if e := decodeAs[apiError](t, r); !strings.Contains(e.Error, "server.max_body_bytes") || !strings.Contains(e.Error, "2048") {
			t.Errorf("error %q should name the limit and server.max_body_bytes", e.Error)
		}
		s.decide(t, clean)
	})

	t.Run("wrong method", func(t *testing.T) {
		wantStatus(t, "GET /v1/decide", s.get(t, "/v1/decide"), http.StatusMethodNotAllowed)
	})

	// Only the good records raised alerts: one, on the blocked card.
	if as := s.listAlerts(t); len(as) != 1 || as[0].Count != good {
		t.Errorf("alerts %+v, want one counting the %d good records", as, good)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// Parallel clients all get their decisions, and the alert they share counts
// every one of them.
func TestDecideConcurrent(t *testing.T) {
	s := newStack(t, stackConfig{})
	const workers, each = 8, 50
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	t.Cleanup(client.CloseIdleConnections)
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				card := "ctok_7Hq2Lm9Xb4" // blocked
				want := decision.Block
				if i%2 == 1 {
					card, want = "ctok_Qw3Er5Ty7U", decision.Allow
				}
				id := fmt.Sprintf("w%d-%d", w, i)
				body := fmt.Sprintf(`{"id":%q,"ts":"2026-03-01T10:00:00Z","type":"payment","card_id":%q,"amount":12.5,"currency":"EUR"}`, id, card)
				resp, err := client.Post(s.url+"/v1/decide", "application/json", strings.NewReader(body))
				if err != nil {
					errs <- err
					continue
				}
				var d decision.Decision
				err = decodeBody(resp, &d)
				switch {
				case err != nil:
					errs <- fmt.Errorf("%s: %w", id, err)
				case d.RecordID != id || d.Action != want:
					errs <- fmt.Errorf("%s: got record %s action %s, want %s", id, d.RecordID, d.Action, want)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	as := s.listAlerts(t)
	if len(as) != 1 || as[0].Count != workers*each/2 {
		t.Fatalf("alerts %+v, want one with count %d", as, workers*each/2)
	}
}
