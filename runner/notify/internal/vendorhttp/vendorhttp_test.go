package vendorhttp

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/notify"
)

func TestPrepend(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"msg_type":"interactive"}`, `{"timestamp":"17","sign":"a+b/=","msg_type":"interactive"}`},
		{` { "a" : 1 } `, `{"timestamp":"17","sign":"a+b/=","a" : 1 }`},
		{`{}`, `{"timestamp":"17","sign":"a+b/="}`},
	} {
		got, err := Prepend([]byte(tc.in), Field{"timestamp", "17"}, Field{"sign", "a+b/="})
		if err != nil || string(got) != tc.want {
			t.Errorf("Prepend(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	if _, err := Prepend([]byte(`[1]`), Field{"a", 1}); err == nil {
		t.Error("Prepend accepted an array")
	}
}

func TestMarshalKeepsMarkup(t *testing.T) {
	b, err := Marshal(map[string]string{"content": `<font color="info">a & b</font>`})
	if err != nil || string(b) != `{"content":"<font color=\"info\">a & b</font>"}` {
		t.Errorf("Marshal = %s, %v", b, err)
	}
}

func TestOneLineAndRedact(t *testing.T) {
	if got := OneLine([]byte("  bad\n\trequest  \xff"), 100); got != "bad request �" {
		t.Errorf("OneLine = %q", got)
	}
	if got := OneLine([]byte(strings.Repeat("é", 10)), 5); got != "éé…" {
		t.Errorf("OneLine cut = %q", got)
	}
	for in, want := range map[string]string{
		"https://oapi.dingtalk.com/robot/send?access_token=s3cret": "https://oapi.dingtalk.com",
		"https://hooks.slack.com/services/T/B/s3cret":              "https://hooks.slack.com",
		"https://user:pw@example.com/x":                            "https://example.com",
		"not a url":                                                "(url)",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRetryAfterAndFailure(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"30": 30 * time.Second, "Sun, 01 Mar 2026 12:01:00 GMT": time.Minute, "soon": 0, "": 0, "-5": 0,
	} {
		if got := RetryAfter(http.Header{"Retry-After": {v}}, now); got != want {
			t.Errorf("RetryAfter(%q) = %s, want %s", v, got, want)
		}
	}
	retry, err := Failure("slack", &Answer{Status: 429, Header: http.Header{"Retry-After": {"9"}}}, true, "rate_limited", "rate_limited")
	var ve *notify.VendorError
	var wait interface{ RetryAfter() time.Duration }
	if !retry || !errors.As(err, &ve) || ve.Code != "rate_limited" || ve.Status != 429 || !errors.As(err, &wait) || wait.RetryAfter() != 9*time.Second {
		t.Errorf("Failure = %v, %#v", retry, err)
	}
	// A permanent failure carries no wait, whatever the header says.
	if _, err := Failure("x", &Answer{Status: 400, Header: http.Header{"Retry-After": {"9"}}}, false, "", "bad"); errors.As(err, &wait) {
		t.Errorf("permanent failure asks to wait: %v", err)
	}
	for status, want := range map[int]bool{400: false, 401: false, 404: false, 408: true, 425: true, 429: true, 500: true, 503: true} {
		if RetryStatus(status) != want {
			t.Errorf("RetryStatus(%d) = %v", status, !want)
		}
	}
}

func TestPostKeepsTokensOutOfErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != "vigil" || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-A") != "1" {
			w.WriteHeader(400)
		}
		w.Write([]byte(strings.Repeat("x", MaxAnswer+10)))
	}))
	a, err := Post(context.Background(), nil, srv.URL+"/hook?key=s3cret", "application/json", []byte(`{}`), http.Header{"X-A": {"1"}})
	if err != nil || a.Status != 200 || len(a.Body) != MaxAnswer {
		t.Fatalf("Post = %+v, %v", a, err)
	}
	srv.Close()
	_, err = Post(context.Background(), nil, srv.URL+"/hook?key=s3cret", "application/json", nil, nil)
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "POST http://127.0.0.1") {
		t.Errorf("transport error %v: want the host, not the key", err)
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct{ raw, err string }{
		{"https://oapi.dingtalk.com/robot/send?access_token=secret", ""},
		{"http://127.0.0.1:9093", ""},
		{"", "url: required"},
		{"ftp://x/y", "url ftp://x: want a webhook URL"},
		{"oapi.dingtalk.com/robot/send?access_token=secret", "want a webhook URL"},
		{"https://", "want a webhook URL"},
	} {
		_, err := ParseURL(tc.raw, "a webhook URL")
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.raw, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want %q", tc.raw, err, tc.err)
		case err != nil && strings.Contains(err.Error(), "secret"):
			t.Errorf("%q: the error shows the token: %v", tc.raw, err)
		}
	}
}
