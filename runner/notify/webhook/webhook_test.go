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
	"sync"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/template"
	"github.com/vigil-risk/vigil/runner/notify/webhook"
)

var at = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type captured struct {
	header http.Header
	body   []byte
}

// receiver is a local webhook receiver that checks deliveries as the
// package documents them: signature verified with the shared secret, and
// each idempotency key accepted once.
type receiver struct {
	*httptest.Server
	t      *testing.T
	secret string

	mu     sync.Mutex
	got    []captured
	keys   map[string]int
	status int
	answer string
}

func newReceiver(t *testing.T, secret string) *receiver {
	r := &receiver{t: t, secret: secret, keys: map[string]int{}, status: 204}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got = append(r.got, captured{req.Header.Clone(), b})
		if r.status >= 300 {
			w.WriteHeader(r.status)
			io.WriteString(w, r.answer)
			return
		}
		if r.secret != "" {
			if err := webhook.Verify(r.secret, req.Header.Get(webhook.TimestampHeader), req.Header.Get(webhook.SignatureHeader), b, at, 5*time.Minute); err != nil {
				http.Error(w, err.Error(), 401)
				return
			}
		}
		r.keys[req.Header.Get("Idempotency-Key")]++
		w.WriteHeader(r.status)
	}))
	t.Cleanup(r.Close)
	return r
}

func newChannel(t *testing.T, cfg webhook.Config) *webhook.Channel {
	t.Helper()
	c, err := webhook.New(cfg, webhook.Options{LinkBase: "https://vigil.example.com/console/", Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSendsSignedJSON(t *testing.T) {
	r := newReceiver(t, "k")
	c := newChannel(t, webhook.Config{URL: r.URL + "/in", Secret: "k", Headers: map[string]string{"Authorization": "Bearer t"}})
	m := template.Example(3, template.EN)
	m.Receiver, m.GroupKey, m.Digest = "ops", `{}:{alertname="card_testing"}`, 2
	ps, err := c.Render(m)
	if err != nil || len(ps) != 1 {
		t.Fatalf("Render = %v, %v", ps, err)
	}
	if retry, err := c.Send(t.Context(), ps[0]); err != nil || retry {
		t.Fatalf("Send = %v, %v", retry, err)
	}
	req := r.got[0]
	for k, want := range map[string]string{"Content-Type": "application/json", "User-Agent": "vigil", "Idempotency-Key": "example-key",
		"X-Vigil-Timestamp": "1772366400", "Authorization": "Bearer t"} {
		if v := req.header.Get(k); v != want {
			t.Errorf("header %s = %q, want %q", k, v, want)
		}
	}
	if r.keys["example-key"] != 1 {
		t.Errorf("receiver accepted %v", r.keys)
	}
	var p webhook.Payload
	if err := json.Unmarshal(req.body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Version != "2" || p.Receiver != "ops" || p.Status != notify.Firing || p.GroupKey != m.GroupKey || p.GroupLabels["env"] != "prod" ||
		p.Digest != 2 || p.Part != 1 || p.Parts != 1 || p.Total != 3 || len(p.Alerts) != 3 {
		t.Errorf("payload = %+v", p)
	}
	a := p.Alerts[0]
	if a.ID != 1000 || a.Rule != "card_testing" || a.Title != "Card testing burst" || a.Severity != "high" || a.Action != "block" ||
		a.Entity.String() != "card_id=e-100000" || a.Status != "open" || a.Reason != "6 small authorisations in 1m" || a.Count != 1 ||
		!a.FirstSeen.Equal(m.Alerts[0].FirstSeen) || a.Runbook == "" || a.PolicyRevision != "3f2a9c1" || a.Link != "https://vigil.example.com/console/alerts/1000" {
		t.Errorf("alert = %+v", a)
	}
	if p.Alerts[2].Status != "resolved" || p.Alerts[2].Resolution != "true_positive" {
		t.Errorf("resolved alert = %+v", p.Alerts[2])
	}
}

func TestSplitsToMaxBytes(t *testing.T) {
	r := newReceiver(t, "k")
	c := newChannel(t, webhook.Config{URL: r.URL, Secret: "k", MaxBytes: 16 << 10})
	ps, err := c.Render(template.Example(300, template.ZH))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) < 3 {
		t.Fatalf("%d parts", len(ps))
	}
	seen := map[int64]int{}
	for i, p := range ps {
		if len(p.Body) > 16<<10 || p.IdempotencyKey != fmt.Sprintf("example-key-%d", i+1) {
			t.Errorf("part %d: %d bytes, key %s", i+1, len(p.Body), p.IdempotencyKey)
		}
		if _, err := c.Send(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		var got webhook.Payload
		json.Unmarshal(r.got[i].body, &got)
		if got.Part != i+1 || got.Parts != len(ps) || got.Total != 300 {
			t.Errorf("part %d says %d/%d of %d", i+1, got.Part, got.Parts, got.Total)
		}
		for _, a := range got.Alerts {
			seen[a.ID]++
		}
	}
	for id := int64(1000); id < 1300; id++ {
		if seen[id] != 1 {
			t.Errorf("alert %d delivered %d times", id, seen[id])
		}
	}
	// A retry after a crash repeats a part's key: the receiver can drop it.
	c.Send(t.Context(), ps[0])
	if r.keys["example-key-1"] != 2 || len(r.keys) != len(ps) {
		t.Errorf("keys = %v", r.keys)
	}
}

func TestClassifiesAnswers(t *testing.T) {
	for _, tc := range []struct {
		status int
		retry  bool
	}{
		{400, false}, {401, false}, {404, false}, {422, false},
		{408, true}, {429, true}, {500, true}, {502, true}, {503, true},
	} {
		r := newReceiver(t, "")
		r.status, r.answer = tc.status, "  reason:\n\tsomething   broke  "
		c := newChannel(t, webhook.Config{URL: r.URL + "?token=s3cret"})
		ps, _ := c.Render(template.Example(1, template.EN))
		retry, err := c.Send(t.Context(), ps[0])
		if retry != tc.retry {
			t.Errorf("HTTP %d: retry = %v, want %v", tc.status, retry, tc.retry)
		}
		var ve *notify.VendorError
		if !errors.As(err, &ve) || ve.Status != tc.status || ve.Message != "reason: something broke" || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("HTTP %d: error = %#v, want the status and a one-line body, no query secret", tc.status, err)
		}
	}
}

func TestTransportErrorsRetry(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the server notices a closed connection only after the body
		<-r.Context().Done()        // never answers
	}))
	defer s.Close()
	c := newChannel(t, webhook.Config{URL: s.URL + "?token=s3cret", Timeout: 50 * time.Millisecond})
	ps, _ := c.Render(template.Example(1, template.EN))
	retry, err := c.Send(t.Context(), ps[0])
	if !retry || !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("timeout: retry %v, err %v; want a retryable deadline error without the query", retry, err)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	c = newChannel(t, webhook.Config{URL: closed.URL})
	if retry, err := c.Send(t.Context(), ps[0]); !retry || err == nil {
		t.Errorf("connection refused: retry %v, err %v; want retryable", retry, err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  webhook.Config
		opts webhook.Options
		want string
	}{
		{webhook.Config{}, webhook.Options{}, "url: required"},
		{webhook.Config{URL: "ftp://x/y"}, webhook.Options{}, `url ftp://x: want an absolute http or https URL`},
		{webhook.Config{URL: "/relative"}, webhook.Options{}, "want an absolute http or https URL"},
		{webhook.Config{URL: "http://x", Timeout: -time.Second}, webhook.Options{}, "timeout -1s: must not be negative"},
		{webhook.Config{URL: "http://x", MaxBytes: 100}, webhook.Options{}, "max_bytes 100: want 0 (no limit) or at least 4096"},
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
