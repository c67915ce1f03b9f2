package action_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/alert/action"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/logchan"
	"github.com/vigil-risk/vigil/runner/notify/webhook"
	"github.com/vigil-risk/vigil/runner/record"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const secret = "s3cret-freeze"

// hit is one request the action server got.
type hit struct {
	key     string
	attempt string
	body    []byte
	req     action.Request
}

// endpoint is a real HTTP action server: it verifies every signature
// against the test clock, keeps each request and answers from a script
// (the last status repeats; 0 closes the connection, -1 hangs).
type endpoint struct {
	t       *testing.T
	clk     *clock
	srv     *httptest.Server
	mu      sync.Mutex
	hits    []hit
	script  []int
	arrived chan struct{} // a request the script hangs (-1) arrived
}

func newEndpoint(t *testing.T, clk *clock, script ...int) *endpoint {
	e := &endpoint{t: t, clk: clk, script: script, arrived: make(chan struct{}, 1)}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *endpoint) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		e.t.Errorf("action server: read body: %v", err)
	}
	if err := webhook.Verify(secret, r.Header.Get(webhook.TimestampHeader), r.Header.Get(webhook.SignatureHeader), body, e.clk.Now(), time.Minute); err != nil {
		e.t.Errorf("action server: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var req action.Request
	if err := json.Unmarshal(body, &req); err != nil {
		e.t.Errorf("action server: body: %v", err)
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Idempotency-Key") != req.IdempotencyKey {
		e.t.Errorf("action server: %s, content type %q, Idempotency-Key %q, body key %q", r.Method, r.Header.Get("Content-Type"),
			r.Header.Get("Idempotency-Key"), req.IdempotencyKey)
	}
	e.mu.Lock()
	e.hits = append(e.hits, hit{key: r.Header.Get("Idempotency-Key"), attempt: r.Header.Get("X-Vigil-Attempt"), body: body, req: req})
	status := 200
	if len(e.script) > 0 {
		status = e.script[0]
		if len(e.script) > 1 {
			e.script = e.script[1:]
		}
	}
	e.mu.Unlock()
	if status == -1 { // hang until the caller gives up
		e.arrived <- struct{}{}
		<-r.Context().Done()
		return
	}
	if status == 0 { // a network error: drop the connection
		hj, _ := w.(http.Hijacker)
		conn, _, err := hj.Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"status":%d}`, status)
}

func (e *endpoint) got() []hit {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]hit(nil), e.hits...)
}

// world is a runner's handling over one database file; restart rebuilds it
// over the same file, as after a crash.
type world struct {
	t     *testing.T
	path  string
	clk   *clock
	cfg   config.AutoActionsConfig
	rules map[string]string // rule → metadata auto_action
	reg   *prometheus.Registry

	db   *sql.DB
	svc  *alert.Service
	x    *action.Executor
	disp *notify.Dispatcher // nil without an on-call receiver

	oncall *httptest.Server // the guard's receiver, a real webhook
	seq    int
}

func newWorld(t *testing.T, cfg config.AutoActionsConfig, rules map[string]string, oncall *httptest.Server) *world {
	w := &world{t: t, path: filepath.Join(t.TempDir(), "vigil.db"), clk: &clock{t: start}, cfg: cfg, rules: rules, oncall: oncall}
	w.restart()
	return w
}

func (w *world) restart() {
	t := w.t
	ctx := context.Background()
	if w.db != nil {
		w.db.Close()
	}
	db, err := sqldb.Open(ctx, w.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store, err := alertsqlite.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := alert.NewService(store, alert.Options{Now: w.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{}
	for _, e := range w.cfg.Endpoints {
		secrets[e.Name] = secret
	}
	w.reg = prometheus.NewRegistry()
	x, err := action.New(ctx, db, svc, action.Options{
		Config: w.cfg, Secrets: secrets, RuleAction: func(rule string) string { return w.rules[rule] },
		Now: w.clk.Now, Jitter: func(d time.Duration) time.Duration { return d }, Registerer: w.reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.db, w.svc, w.x = db, svc, x
	if w.oncall != nil {
		console := logchan.New(nil)
		hook, err := webhook.New(webhook.Config{URL: w.oncall.URL}, webhook.Options{Now: w.clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		w.disp, err = notify.NewDispatcher(ctx, db, []notify.Receiver{{Name: "console", Channel: console}, {Name: "oncall", Channel: hook}},
			notify.Options{Now: w.clk.Now})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// raise makes rule hit a new entity, raising an alert.
func (w *world) raise(rule string, sev decision.Severity) alert.Alert {
	w.t.Helper()
	w.seq++
	id := fmt.Sprint("r-", w.seq)
	at := w.clk.Now()
	rec := record.Record{ID: id, Type: "payment", Time: at, Fields: map[string]any{"id": id, "card_id": fmt.Sprint("c", w.seq), "amount": 12.5}}
	h := decision.Hit{Rule: rule, Title: rule, Severity: sev, Action: decision.Block, Reason: "too many small payments",
		Entity: &decision.Entity{Field: "card_id", Value: fmt.Sprint("c", w.seq)}}
	as, err := w.svc.Observe(context.Background(), rec, decision.Decision{RecordID: id, Time: at, Action: decision.Block, Hits: []decision.Hit{h}})
	if err != nil || len(as) != 1 {
		w.t.Fatalf("raise: %v, %d alerts", err, len(as))
	}
	return as[0]
}

func (w *world) tick() action.Stats {
	w.t.Helper()
	st, err := w.x.Tick(context.Background())
	if err != nil {
		w.t.Fatalf("Tick at %s: %v", w.clk.Now().Sub(start), err)
	}
	return st
}

// events returns the kinds of an alert's events, and those of one kind.
func (w *world) events(id int64, kind alert.EventKind) ([]string, []alert.Event) {
	w.t.Helper()
	es, err := w.svc.Events(context.Background(), id)
	if err != nil {
		w.t.Fatal(err)
	}
	var kinds []string
	var of []alert.Event
	for _, e := range es {
		kinds = append(kinds, string(e.Kind))
		if e.Kind == kind {
			of = append(of, e)
		}
	}
	return kinds, of
}

func actionsConfig(url string, limit int) config.AutoActionsConfig {
	return config.AutoActionsConfig{
		Endpoints:   []config.ActionEndpoint{{Name: "freeze_card", URL: url, Timeout: 2 * time.Second}},
		Guard:       config.ActionGuard{Limit: limit, Interval: time.Minute, Notify: []string{"oncall"}},
		MaxAttempts: 4, BackoffBase: time.Second, BackoffMax: 5 * time.Second,
	}
}

// counter reads a counter's value.
func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
