package server_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/policy"
	"github.com/vigil-risk/vigil/runner/record"
	"github.com/vigil-risk/vigil/runner/server"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// shippedBundle is the repository's policy bundle, the one the image ships.
const shippedBundle = "../../policies"

const runnerVersion = "v0.0.0-test"

// Records used across the tests. blockedCard is on the blocked-card list
// (blocked_card: critical, block); clean hits nothing.
const (
	blockedCard      = `{"id":"t-1","ts":"2026-03-01T10:00:00Z","type":"payment","card_id":"ctok_7Hq2Lm9Xb4","amount":12.5,"currency":"EUR"}`
	otherBlockedCard = `{"id":"t-2","ts":"2026-03-01T10:05:00Z","type":"payment","card_id":"ctok_Z81kPd03Rt","amount":20,"currency":"EUR"}`
	clean            = `{"id":"c-1","ts":"2026-03-01T10:00:00Z","type":"payment","card_id":"ctok_Qw3Er5Ty7U","amount":12.5,"currency":"EUR","channel":"pos"}`
)

// stack is the whole runner behind the API: the real engine on a bundle, a
// SQLite alert store in a temporary directory, the pipeline with a JSONL
// dead-letter log and Prometheus metrics, served by httptest.
type stack struct {
	url         string
	handler     http.Handler
	engine      *policy.Engine
	alerts      *alert.Service
	db          *sql.DB // the alert store's database, nil without alerts
	deadLetters *pipeline.JSONL
	deadPath    string
}

type stackConfig struct {
	bundle   string         // default: the shipped bundle
	record   record.Options // the deployment's record options
	noAlerts bool           // serve without the alert service
	server   server.Options // Alerts, Gatherer, Version and Log are filled in
}

func newStack(t testing.TB, cfg stackConfig) *stack {
	t.Helper()
	ctx := t.Context()
	log := slog.New(slog.DiscardHandler)
	bundle := cfg.bundle
	if bundle == "" {
		bundle = shippedBundle
	}
	engine, err := policy.NewEngine(ctx, bundle, log)
	if err != nil {
		t.Fatalf("engine: %v", err)
	}

	dir := t.TempDir()
	s := &stack{engine: engine, deadPath: filepath.Join(dir, "dead-letters.jsonl")}
	if s.deadLetters, err = pipeline.OpenJSONL(s.deadPath); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.deadLetters.Close() })

	registry := prometheus.NewRegistry()
	opts := pipeline.Options{
		Env:           "test",
		RunnerVersion: runnerVersion,
		Record:        cfg.record,
		DeadLetters:   pipeline.DeadLetterLog{JSONL: s.deadLetters},
		Metrics:       pipeline.NewMetrics(registry),
		Log:           log,
	}
	if !cfg.noAlerts {
		db, err := sqldb.Open(ctx, filepath.Join(dir, "vigil.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		s.db = db
		store, err := alertsqlite.New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		if s.alerts, err = alert.NewService(store, alert.Options{Logger: log}); err != nil {
			t.Fatal(err)
		}
		opts.Alerts = s.alerts
	}
	pipe, err := pipeline.New(engine, opts)
	if err != nil {
		t.Fatalf("pipeline: %v", err)
	}

	so := cfg.server
	so.Alerts, so.Gatherer, so.Version, so.Log = s.alerts, registry, runnerVersion, log
	if cfg.noAlerts {
		so.Alerts = nil
	}
	s.handler = server.New(pipe, so).Handler()
	srv := httptest.NewServer(s.handler)
	t.Cleanup(srv.Close) // first in, last out: the server stops before the store closes
	s.url = srv.URL
	return s
}

// reply is one HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// decode unmarshals the body into a fresh T.
func decodeAs[T any](t *testing.T, r reply) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return v
}

// request sends a request; header holds "Name: value" pairs.
func (s *stack) request(t *testing.T, method, path, contentType, body string, header ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, h := range header {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(name, strings.TrimSpace(value))
	}
	return s.send(t, req)
}

func (s *stack) send(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the reply: %v", req.Method, req.URL.Path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: body}
}

func (s *stack) get(t *testing.T, path string) reply {
	t.Helper()
	return s.request(t, http.MethodGet, path, "", "")
}

func (s *stack) post(t *testing.T, path, contentType, body string, header ...string) reply {
	t.Helper()
	return s.request(t, http.MethodPost, path, contentType, body, header...)
}

// decide posts one record and wants a decision.
func (s *stack) decide(t *testing.T, rec string) decision.Decision {
	t.Helper()
	r := s.post(t, "/v1/decide", "application/json", rec)
	if r.status != http.StatusOK {
		t.Fatalf("POST /v1/decide %s: %d %s", rec, r.status, r.body)
	}
	return decodeAs[decision.Decision](t, r)
}

// wantStatus fails the test unless r has the status.
func wantStatus(t *testing.T, what string, r reply, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.status, status, r.body)
	}
}

// apiError is the body of every error reply.
type apiError struct {
	Error  string              `json:"error"`
	Errors []record.FieldError `json:"errors"`
}

// fields lists the fields an error reply names.
func (e apiError) fields() []string {
	var out []string
	for _, fe := range e.Errors {
		if fe.Field != "" {
			out = append(out, fe.Field)
		}
	}
	return out
}

// deadLetterLine is one line of the dead-letter log as written.
type deadLetterLine struct {
	At     string              `json:"at"`
	Source string              `json:"source"`
	Line   int                 `json:"line"`
	Index  int                 `json:"index"`
	Errors []record.FieldError `json:"errors"`
	Raw    string              `json:"raw"`
}

// readDeadLetters flushes the dead-letter log and reads it back.
func (s *stack) readDeadLetters(t *testing.T) []deadLetterLine {
	t.Helper()
	if err := s.deadLetters.Flush(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(s.deadPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []deadLetterLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var dl deadLetterLine
		if err := json.Unmarshal(sc.Bytes(), &dl); err != nil {
			t.Fatalf("dead-letter line %q: %v", sc.Text(), err)
		}
		out = append(out, dl)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// listAlerts reads every alert from the service, newest first.
func (s *stack) listAlerts(t *testing.T) []alert.Alert {
	t.Helper()
	as, err := s.alerts.List(context.Background(), alert.Filter{Limit: alert.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func hitRules(hits []decision.Hit) []string {
	out := []string{}
	for _, h := range hits {
		out = append(out, h.Rule)
	}
	return out
}

// decodeBody wants a 200 and decodes its JSON into v; for use off the test
// goroutine, it returns errors instead of failing.
func decodeBody(resp *http.Response, v any) error {
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return json.Unmarshal(body, v)
}
