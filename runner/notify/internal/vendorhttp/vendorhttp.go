// Package vendorhttp holds what the HTTP channels share: sending a request
// and reading a bounded answer, classifying HTTP statuses, JSON bodies
// without HTML escaping, and keeping tokens out of error messages.
package vendorhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/notify"
)

// MaxAnswer bounds how much of a vendor's answer is read.
const MaxAnswer = 64 << 10

// UserAgent identifies Vigil to vendors.
const UserAgent = "vigil"

// Answer is a vendor's HTTP response, its body read up to MaxAnswer.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// OK reports a 2xx status.
func (a *Answer) OK() bool { return a.Status >= 200 && a.Status < 300 }

// Post sends body to target with the given content type and extra headers.
// A transport error (refused, reset, timeout) is returned without the URL,
// which may carry a token, and is always worth retrying.
func Post(ctx context.Context, client *http.Client, target, contentType string, body []byte, header http.Header) (*Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request for %s: %w", Redact(target), unwrapURL(err))
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", UserAgent)
	return Do(client, req)
}

// Do sends req and reads the answer; see Post for transport errors.
func Do(client *http.Client, req *http.Request) (*Answer, error) {
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, Redact(req.URL.String()), unwrapURL(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", req.Method, Redact(req.URL.String()), unwrapURL(err))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, MaxAnswer)) // lets the connection be reused
	return &Answer{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// unwrapURL drops *url.Error's copy of the URL, which may hold a token.
func unwrapURL(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

// ParseURL checks a channel's url: present, and an absolute http or https
// URL; want says in the error what it should be. Errors never show the
// URL's secrets (tokens in its path or query).
func ParseURL(raw, want string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("url: required")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("url %s: want %s", Redact(raw), want)
	}
	return u, nil
}

// RetryStatus reports whether an HTTP status is worth retrying: request
// timeout, too early, too many requests and every 5xx.
func RetryStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooEarly ||
		status == http.StatusTooManyRequests || status >= 500
}

// Failure is a vendor's refusal as Send returns it: a *notify.VendorError
// with the answer's status and the vendor's code and message, wrapped in a
// *notify.RetryAfterError when it is retryable and the answer says how long
// to wait (Retry-After).
func Failure(vendor string, a *Answer, retry bool, code, message string) (bool, error) {
	var err error = &notify.VendorError{Vendor: vendor, Status: a.Status, Code: code, Message: message}
	if retry {
		if d := RetryAfter(a.Header, time.Now()); d > 0 {
			err = &notify.RetryAfterError{Err: err, After: d}
		}
	}
	return retry, err
}

// StatusFailure is the Failure for a non-2xx answer that carries no vendor
// code: retryable for RetryStatus statuses, the answer's start as message.
func StatusFailure(vendor string, a *Answer) (bool, error) {
	return Failure(vendor, a, RetryStatus(a.Status), "", OneLine(a.Body, 256))
}

// ErrCodeAnswer classifies an answer of the robots that reply
// {"errcode", "errmsg"} (DingTalk, WeCom): errcode 0 is delivered; another
// code is a VendorError, retryable when retry says so and held off for what
// wait says (0: the usual backoff); a non-2xx status or a body without
// errcode is judged by its status.
func ErrCodeAnswer(vendor string, a *Answer, retry func(code int64) bool, wait func(code int64) time.Duration) (bool, error) {
	if !a.OK() {
		return StatusFailure(vendor, a)
	}
	var r struct {
		ErrCode *int64 `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal(a.Body, &r); err != nil || r.ErrCode == nil {
		return true, fmt.Errorf("%s: HTTP %d with an answer that is not the robot's: %s", vendor, a.Status, OneLine(a.Body, 256))
	}
	if *r.ErrCode == 0 {
		return false, nil
	}
	again, err := Failure(vendor, a, retry(*r.ErrCode), strconv.FormatInt(*r.ErrCode, 10), OneLine([]byte(r.ErrMsg), 256))
	if d := wait(*r.ErrCode); d > 0 {
		err = &notify.RetryAfterError{Err: err, After: d}
	}
	return again, err
}

// RetryAfter reads a Retry-After header: seconds or an HTTP date; 0 when
// absent or unreadable.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(s, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// Redact keeps only the scheme and host of a URL: chat vendors put their
// tokens in the query (access_token=, key=) or the path (Slack, Feishu).
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(url)"
	}
	return u.Scheme + "://" + u.Host
}

// OneLine is the start of a vendor's answer on one line, for an error
// message: whitespace runs collapsed, invalid UTF-8 replaced, cut at max
// bytes with "…".
func OneLine(b []byte, max int) string {
	cut := len(b) > max
	if cut {
		b = b[:max]
	}
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "�")), " ")
	if cut {
		s = strings.TrimRight(strings.ToValidUTF8(s, ""), "�") + "…"
	}
	return s
}

// Marshal encodes v as compact JSON without escaping <, > and & — vendors'
// markup (<font>, <@user>) stays readable and keeps its size.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// Field is one JSON member for Prepend.
type Field struct {
	Name  string
	Value any
}

// Prepend adds members at the front of a JSON object — the time-dependent
// or secret fields Send adds to a stored body (Feishu's timestamp and sign,
// PagerDuty's routing_key) without decoding it again.
func Prepend(object []byte, fields ...Field) ([]byte, error) {
	object = bytes.TrimSpace(object)
	if len(object) < 2 || object[0] != '{' {
		return nil, errors.New("body is not a JSON object")
	}
	rest := bytes.TrimSpace(object[1:])
	var buf bytes.Buffer
	buf.Grow(len(object) + 64*len(fields))
	buf.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := Marshal(f.Name)
		if err != nil {
			return nil, err
		}
		v, err := Marshal(f.Value)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.Name, err)
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	if rest[0] != '}' {
		buf.WriteByte(',')
	}
	buf.Write(rest)
	return buf.Bytes(), nil
}
