package notify_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/route"
	"github.com/vigil-risk/vigil/runner/record"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// clock is a settable wall clock, safe for concurrent use; the zero time
// means the real one.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t.IsZero() {
		return time.Now()
	}
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// logBuffer collects JSON log output from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Lines returns the log lines whose msg contains substr.
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

// env is a database with an alert service over it, as the runner wires them,
// on a fake clock.
type env struct {
	t    testing.TB
	path string
	db   *sql.DB
	svc  *alert.Service
	clk  *clock
	n    int                    // records observed, for unique ids
	ids  map[string]alert.Alert // the latest alert raised per rule/entity
}

func newEnv(t testing.TB) *env {
	e := &env{t: t, path: filepath.Join(t.TempDir(), "vigil.db"), clk: &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		ids: map[string]alert.Alert{}}
	e.open(nil)
	return e
}

// ruleInfo gives the test rules an owner and tags, as rule metadata would.
func ruleInfo(rule string) (alert.RuleInfo, bool) {
	switch rule {
	case "card_testing":
		return alert.RuleInfo{Owner: "payments-risk", Tags: []string{"card", "velocity"}}, true
	case "aml_structuring":
		return alert.RuleInfo{Owner: "aml", Tags: []string{"aml"}}, true
	}
	return alert.RuleInfo{}, false
}

// open opens the database and an alert service that calls kick after it
// raises or resolves alerts.
func (e *env) open(kick func()) {
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
	svc, err := alert.NewService(store, alert.Options{Now: e.clk.Now, RuleInfo: ruleInfo, MinSeverity: decision.Low, Kick: kick})
	if err != nil {
		e.t.Fatal(err)
	}
	e.db, e.svc = db, svc
}

// restart closes the database and opens it again, as a new process would.
func (e *env) restart() {
	e.t.Helper()
	e.db.Close() // may already be closed by a "crash"
	e.open(nil)
}

// tree builds a routing tree from YAML-shaped config.
func tree(t testing.TB, cfg config.RouteConfig, timers route.Timers, receivers ...string) *route.Route {
	t.Helper()
	r, err := route.New(cfg, timers, receivers)
	if err != nil {
		t.Fatalf("route.New: %v", err)
	}
	return r
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

// hit raises or repeats an alert of rule on a card.
func (e *env) hit(rule string, sev decision.Severity, act decision.Action, card string) alert.Alert {
	e.t.Helper()
	e.n++
	at := e.clk.Now().Add(-time.Hour)
	r := record.Record{ID: fmt.Sprintf("t-%d", e.n), Type: "payment", Time: at, Fields: map[string]any{"card_id": card}}
	d := decision.Decision{RecordID: r.ID, Time: at, Action: act, PolicyRevision: "rev-7",
		Hits: []decision.Hit{{Rule: rule, Title: rule, Severity: sev, Action: act, Reason: "because",
			Entity: &decision.Entity{Field: "card_id", Value: card}}}}
	as, err := e.svc.Observe(context.Background(), r, d)
	if err != nil || len(as) != 1 {
		e.t.Fatalf("Observe: %v, %v", as, err)
	}
	e.ids[rule+"/"+card] = as[0]
	return as[0]
}

// raise is a high card_testing hit on card.
func (e *env) raise(card string) alert.Alert {
	e.t.Helper()
	return e.hit("card_testing", decision.High, decision.Block, card)
}

// resolve resolves the open alert of rule on card.
func (e *env) resolve(rule, card string) {
	e.t.Helper()
	a, ok := e.ids[rule+"/"+card]
	if !ok {
		e.t.Fatalf("no alert of %s on %s", rule, card)
	}
	if _, err := e.svc.Resolve(context.Background(), a.ID, "ana", alert.TruePositive, "card blocked"); err != nil {
		e.t.Fatal(err)
	}
}

// step is what the running dispatcher does when its timers fire: route new
// events, flush the due groups, send what may go.
func step(t testing.TB, d *notify.Dispatcher) {
	t.Helper()
	if _, err := d.FanOut(context.Background()); err != nil {
		t.Fatalf("FanOut: %v", err)
	}
	if _, err := d.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if _, err := d.Deliver(context.Background()); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
}

func list(t testing.TB, d *notify.Dispatcher, f notify.Filter) []notify.Notification {
	t.Helper()
	ns, err := d.List(context.Background(), f)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return ns
}

func pending(t testing.TB, d *notify.Dispatcher) int {
	t.Helper()
	n, err := d.Pending(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// hookChannel is a small webhook-like notify.Channel: a message renders to
// JSON bodies of its alerts, split so that none exceeds MaxBytes, each
// POSTed with its idempotency key. 2xx is success, 408/429/5xx retryable,
// any other status a *notify.VendorError with the body as the vendor's words.
type hookChannel struct {
	url    string
	limits notify.Limits
	client *http.Client
}

// hookBody is what hookChannel sends.
type hookBody struct {
	Receiver string      `json:"receiver"`
	Key      string      `json:"key"`
	Group    string      `json:"group"`
	Status   notify.Kind `json:"status"`
	Digest   int         `json:"digest"`
	Part     int         `json:"part"`
	Parts    int         `json:"parts"`
	Alerts   []hookAlert `json:"alerts"`
}

type hookAlert struct {
	ID     int64  `json:"id"`
	Rule   string `json:"rule"`
	Entity string `json:"entity"`
	Status string `json:"status"`
	Count  int    `json:"count"`
}

func (c *hookChannel) Limits() notify.Limits { return c.limits }

func (c *hookChannel) Render(m *notify.Message) ([]notify.Payload, error) {
	head := hookBody{Receiver: m.Receiver, Key: m.IdempotencyKey, Group: m.GroupKey, Status: m.Status, Digest: m.Digest,
		Part: 999999, Parts: 999999, Alerts: []hookAlert{}}
	base, _ := json.Marshal(head)
	var parts [][]hookAlert
	var cur []hookAlert
	size := len(base)
	for _, a := range m.Alerts {
		ha := hookAlert{ID: a.ID, Rule: a.Rule, Entity: a.Entity.Value, Status: string(a.Status), Count: a.Count}
		b, _ := json.Marshal(ha)
		if c.limits.MaxBytes > 0 && len(cur) > 0 && size+len(b)+1 > c.limits.MaxBytes {
			parts, cur, size = append(parts, cur), nil, len(base)
		}
		cur = append(cur, ha)
		size += len(b) + 1
	}
	parts = append(parts, cur)
	out := make([]notify.Payload, len(parts))
	for i, p := range parts {
		body := head
		body.Part, body.Parts, body.Alerts = i+1, len(parts), p
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		k := m.IdempotencyKey
		if len(parts) > 1 {
			k = fmt.Sprintf("%s-%d", k, i+1)
		}
		out[i] = notify.Payload{Body: b, ContentType: "application/json", Part: i + 1, Parts: len(parts),
			Summary: fmt.Sprintf("%d alerts", len(p)), IdempotencyKey: k}
	}
	return out, nil
}

func (c *hookChannel) Send(ctx context.Context, p notify.Payload) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(p.Body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", p.ContentType)
	req.Header.Set("Idempotency-Key", p.IdempotencyKey)
	client := c.client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return true, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		return true, fmt.Errorf("hook: HTTP %d: %s", resp.StatusCode, msg)
	default:
		return false, &notify.VendorError{Vendor: "hook", Status: resp.StatusCode, Message: string(msg)}
	}
}

// hook is a receiving server that records every request at the fake
// clock's time, answers respond(n) for the nth one (default 200), and
// processes each idempotency key once, as a receiver that honours them.
type hook struct {
	*httptest.Server
	clk     *clock
	mu      sync.Mutex
	reqs    []hookRequest
	seen    map[string]int // idempotency key → accepted requests with it
	respond func(n int) int
}

type hookRequest struct {
	at     time.Time // fake clock
	key    string
	size   int
	body   hookBody
	status int
}

func newHook(t testing.TB, clk *clock, respond func(n int) int) *hook {
	h := &hook{clk: clk, respond: respond, seen: map[string]int{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var b hookBody
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Errorf("hook: body: %v", err)
		}
		h.mu.Lock()
		status := http.StatusOK
		if h.respond != nil {
			status = h.respond(len(h.reqs) + 1)
		}
		k := r.Header.Get("Idempotency-Key")
		h.reqs = append(h.reqs, hookRequest{at: clk.Now(), key: k, size: len(raw), body: b, status: status})
		if status < 300 {
			h.seen[k]++
		}
		h.mu.Unlock()
		w.WriteHeader(status)
		fmt.Fprintf(w, "%s: details for the sender", http.StatusText(status))
	}))
	t.Cleanup(h.Close)
	return h
}

// receiver is a notify.Receiver over a hookChannel to h.
func (h *hook) receiver(name string, limits notify.Limits) notify.Receiver {
	return notify.Receiver{Name: name, Channel: &hookChannel{url: h.URL, limits: limits}, Timeout: 2 * time.Second, SendResolved: true}
}

// Requests returns every request so far.
func (h *hook) Requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.reqs)
}

// Accepted returns the bodies of the accepted requests since the nth, each
// idempotency key once.
func (h *hook) Accepted(since int) []hookBody {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []hookBody
	keys := map[string]bool{}
	for _, r := range h.reqs[min(since, len(h.reqs)):] {
		if r.status < 300 && !keys[r.key] {
			keys[r.key] = true
			out = append(out, r.body)
		}
	}
	return out
}

// describe renders accepted messages as "F[c1 c2] R[c3]": the firing and
// resolved entities of each, in order.
func describe(bodies []hookBody) []string {
	var out []string
	for _, b := range bodies {
		var f, r []string
		for _, a := range b.Alerts {
			if a.Status == string(alert.Resolved) {
				r = append(r, a.Entity)
			} else {
				f = append(f, a.Entity)
			}
		}
		s := "F[" + strings.Join(f, " ") + "]"
		if len(r) > 0 {
			s += " R[" + strings.Join(r, " ") + "]"
		}
		out = append(out, s)
	}
	return out
}

// eventually polls cond until it holds or a generous deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func dur(d time.Duration) *time.Duration { return &d }
