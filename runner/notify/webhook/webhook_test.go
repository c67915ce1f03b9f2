package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/webhook"
)

var at = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func notification() *notify.Notification {
	return &notify.Notification{ID: 9, Receiver: "ops", AlertID: 42, EventID: 77, Kind: notify.Firing, IdempotencyKey: "key-1",
		Alert: alert.Alert{ID: 42, Fingerprint: "fp", Rule: "card_testing", Title: "Card testing", Severity: decision.High,
			Action: decision.Block, Entity: decision.Entity{Field: "card_id", Value: "c1"}, Status: alert.Open,
			Reason: "6 small auths", Count: 3, FirstSeen: at, LastSeen: at.Add(time.Minute), Runbook: "https://wiki/ct",
			PolicyRevision: "rev-7", Owner: "payments", Tags: []string{"card"}}}
}

type captured struct {
	header http.Header
	body   []byte
}

func server(t *testing.T, status int, body string) (*httptest.Server, *[]captured) {
	var got []captured
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, captured{r.Header.Clone(), b})
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s, &got
}

func TestNotifySendsSignedJSON(t *testing.T) {
	s, got := server(t, 204, "")
	w, err := webhook.New(webhook.Config{URL: s.URL + "/in", Secret: "k", Headers: map[string]string{"Authorization": "Bearer t"}},
		webhook.Options{LinkBase: "https://vigil.example.com/console/", Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	retry, err := w.Notify(t.Context(), notification())
	if err != nil || retry {
		t.Fatalf("Notify = %v, %v", retry, err)
	}
	req := (*got)[0]
	for k, want := range map[string]string{"Content-Type": "application/json", "User-Agent": "vigil", "Idempotency-Key": "key-1",
		"X-Vigil-Timestamp": "1772366400", "Authorization": "Bearer t"} {
		if v := req.header.Get(k); v != want {
			t.Errorf("header %s = %q, want %q", k, v, want)
		}
	}
	sig := req.header.Get(webhook.SignatureHeader)
	if err := webhook.Verify("k", req.header.Get(webhook.TimestampHeader), sig, req.body, at.Add(time.Minute), 5*time.Minute); err != nil {
		t.Errorf("Verify of a real delivery: %v", err)
	}
	var p map[string]any
	if err := json.Unmarshal(req.body, &p); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"version": "1", "kind": "firing", "receiver": "ops", "id": 42.0, "fingerprint": "fp",
		"rule": "card_testing", "title": "Card testing", "severity": "high", "action": "block", "status": "open",
		"reason": "6 small auths", "count": 3.0, "first_seen": "2026-03-01T12:00:00Z", "last_seen": "2026-03-01T12:01:00Z",
		"runbook": "https://wiki/ct", "policy_revision": "rev-7", "link": "https://vigil.example.com/console/alerts/42"} {
		if p[k] != want {
			t.Errorf("payload %s = %v, want %v", k, p[k], want)
		}
	}
	if e, _ := p["entity"].(map[string]any); e["field"] != "card_id" || e["value"] != "c1" {
		t.Errorf("payload entity = %v", p["entity"])
	}
}

func TestNotifyClassifiesResponses(t *testing.T) {
	for _, tc := range []struct {
		status int
		retry  bool
	}{
		{200, false}, {202, false},
		{400, false}, {401, false}, {404, false}, {422, false},
		{408, true}, {429, true}, {500, true}, {502, true}, {503, true},
	} {
		s, _ := server(t, tc.status, "  reason:\n\tsomething   broke  ")
		w, err := webhook.New(webhook.Config{URL: s.URL + "?token=s3cret"}, webhook.Options{})
		if err != nil {
			t.Fatal(err)
		}
		retry, err := w.Notify(t.Context(), notification())
		if retry != tc.retry {
			t.Errorf("HTTP %d: retry = %v, want %v", tc.status, retry, tc.retry)
		}
		if tc.status < 300 {
			if err != nil {
				t.Errorf("HTTP %d: %v", tc.status, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("HTTP %d %s: ", tc.status, http.StatusText(tc.status))) ||
			!strings.Contains(err.Error(), "reason: something broke") || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("HTTP %d: error = %v, want the status and a one-line body snippet, no query secret", tc.status, err)
		}
	}
}

func TestNotifyTransportErrorsRetry(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the server notices a closed connection only after the body
		<-r.Context().Done()        // never answers
	}))
	defer s.Close()
	w, _ := webhook.New(webhook.Config{URL: s.URL + "?token=s3cret", Timeout: 50 * time.Millisecond}, webhook.Options{})
	retry, err := w.Notify(t.Context(), notification())
	if !retry || !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("timeout: retry %v, err %v; want a retryable deadline error without the query", retry, err)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	w, _ = webhook.New(webhook.Config{URL: closed.URL}, webhook.Options{})
	if retry, err := w.Notify(t.Context(), notification()); !retry || err == nil {
		t.Errorf("connection refused: retry %v, err %v; want retryable", retry, err)
	}
}

func TestLongBodySnippetIsCut(t *testing.T) {
	s, _ := server(t, 400, strings.Repeat("é", 500))
	w, _ := webhook.New(webhook.Config{URL: s.URL}, webhook.Options{})
	_, err := w.Notify(t.Context(), notification())
	if err == nil || !strings.HasSuffix(err.Error(), "…") || len(err.Error()) > 400 {
		t.Errorf("error = %q, want a short snippet ending in …", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  webhook.Config
		opts webhook.Options
		want string
	}{
		{webhook.Config{}, webhook.Options{}, "url: required"},
		{webhook.Config{URL: "ftp://x/y"}, webhook.Options{}, `url "ftp://x/y": want an absolute http or https URL`},
		{webhook.Config{URL: "/relative"}, webhook.Options{}, "want an absolute http or https URL"},
		{webhook.Config{URL: "http://x", Timeout: -time.Second}, webhook.Options{}, "timeout -1s: must not be negative"},
		{webhook.Config{URL: "http://x", Headers: map[string]string{"bad header": "v"}}, webhook.Options{}, `headers: "bad header" is not a valid header name`},
		{webhook.Config{URL: "http://x", Headers: map[string]string{"x-vigil-signature": "v"}}, webhook.Options{}, "X-Vigil-Signature is set by vigil"},
		{webhook.Config{URL: "http://x", Headers: map[string]string{"X-A": "a\nb"}}, webhook.Options{}, "X-A: value has characters not allowed"},
		{webhook.Config{URL: "http://x"}, webhook.Options{LinkBase: "console"}, `link base "console"`},
	} {
		if _, err := webhook.New(tc.cfg, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) error = %v, want it to mention %q", tc.cfg, err, tc.want)
		}
	}
}
