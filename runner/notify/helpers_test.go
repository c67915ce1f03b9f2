package notify_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/webhook"
	"github.com/vigil-risk/vigil/runner/record"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// clock is a settable wall clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// logBuffer collects log output from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Lines returns the JSON log lines whose msg contains substr.
func (l *logBuffer) Lines(substr string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range strings.SplitSeq(l.b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && strings.Contains(m["msg"].(string), substr) {
			out = append(out, m)
		}
	}
	return out
}

func (l *logBuffer) Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// env is a database with an alert service over it, as the runner wires them.
type env struct {
	t    *testing.T
	path string
	db   *sql.DB
	svc  *alert.Service
	clk  *clock
	n    int // records observed, for unique ids
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, path: filepath.Join(t.TempDir(), "vigil.db"), clk: &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}}
	e.open()
	return e
}

func (e *env) open() {
	e.t.Helper()
	db, err := sqldb.Open(context.Background(), e.path)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { db.Close() })
	store, err := alertsqlite.New(context.Background(), db)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { store.Close() })
	svc, err := alert.NewService(store, alert.Options{Now: e.clk.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	e.db, e.svc = db, svc
}

// restart closes the database and opens it again, as a new process would.
func (e *env) restart() {
	e.t.Helper()
	if err := e.db.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.open()
}

func (e *env) dispatcher(receivers []notify.Receiver, opts notify.Options) *notify.Dispatcher {
	e.t.Helper()
	if opts.Now == nil {
		opts.Now = e.clk.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.New(rand.NewPCG(1, 2))
	}
	d, err := notify.NewDispatcher(context.Background(), e.db, receivers, opts)
	if err != nil {
		e.t.Fatalf("NewDispatcher: %v", err)
	}
	return d
}

// raise observes a high-severity card_testing hit on card.
func (e *env) raise(card string) alert.Alert {
	e.t.Helper()
	e.n++
	at := time.Date(2026, 3, 1, 11, 0, e.n, 0, time.UTC)
	r := record.Record{ID: "t-" + string(rune('a'+e.n)), Type: "payment", Time: at, Fields: map[string]any{"card_id": card}}
	d := decision.Decision{RecordID: r.ID, Time: at, Action: decision.Block, Score: 70, PolicyRevision: "rev-7",
		Hits: []decision.Hit{{Rule: "card_testing", Title: "Card testing", Severity: decision.High, Action: decision.Block,
			Reason: "6 small auths in 1m", Entity: &decision.Entity{Field: "card_id", Value: card}}}}
	as, err := e.svc.Observe(context.Background(), r, d)
	if err != nil || len(as) != 1 {
		e.t.Fatalf("Observe: %v, %v", as, err)
	}
	return as[0]
}

func (e *env) resolve(id int64) {
	e.t.Helper()
	if _, err := e.svc.Resolve(context.Background(), id, "ana", alert.TruePositive, "card blocked"); err != nil {
		e.t.Fatal(err)
	}
}

func list(t *testing.T, d *notify.Dispatcher, f notify.Filter) []notify.Notification {
	t.Helper()
	ns, err := d.List(context.Background(), f)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return ns
}

func pending(t *testing.T, d *notify.Dispatcher) int {
	t.Helper()
	n, err := d.Pending(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// hook is a webhook receiver that records every request and answers with
// respond(n) for the nth (1-based) request; 0 means hang until the client
// gives up.
type hook struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []hookRequest
	respond func(n int) int
}

type hookRequest struct {
	header  http.Header
	body    []byte
	payload webhook.Payload
	status  int
}

func newHook(t *testing.T, respond func(n int) int) *hook {
	h := &hook{respond: respond}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p webhook.Payload
		json.Unmarshal(body, &p)
		h.mu.Lock()
		n := len(h.reqs) + 1
		status := h.respond(n)
		h.reqs = append(h.reqs, hookRequest{header: r.Header.Clone(), body: body, payload: p, status: status})
		h.mu.Unlock()
		if status == 0 { // sleep past the client's timeout
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		}
		w.WriteHeader(status)
		w.Write([]byte(http.StatusText(status) + ": details for the sender"))
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) Requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.reqs...)
}

func (h *hook) receiver(t *testing.T, name, secret string, timeout time.Duration) notify.Receiver {
	t.Helper()
	w, err := webhook.New(webhook.Config{URL: h.URL + "/hook?token=s3cret", Secret: secret, Timeout: timeout}, webhook.Options{LinkBase: "https://vigil.example.com/"})
	if err != nil {
		t.Fatal(err)
	}
	return notify.Receiver{Name: name, Notifier: w, Timeout: timeout}
}

// eventually polls cond until it holds or a generous deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
