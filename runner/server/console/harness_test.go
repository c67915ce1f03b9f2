package console_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/feature"
	"github.com/vigil-risk/vigil/runner/notify/silence"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/policy"
	"github.com/vigil-risk/vigil/runner/server"
	"github.com/vigil-risk/vigil/runner/server/auth"
	"github.com/vigil-risk/vigil/runner/server/console"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// The shipped bundle, and records that hit it: blocked cards raise
// critical blocked_card alerts.
const (
	shippedBundle    = "../../../policies"
	blockedCard      = `{"id":"t-1","ts":"2026-03-01T10:00:00Z","type":"payment","card_id":"ctok_7Hq2Lm9Xb4","amount":12.5,"currency":"EUR"}`
	otherBlockedCard = `{"id":"t-2","ts":"2026-03-01T10:05:00Z","type":"payment","card_id":"ctok_Z81kPd03Rt","amount":20,"currency":"EUR"}`
)

const (
	adminToken   = "admin-token-0123456789abcdef"
	analystToken = "analyst-token-0123456789abcdef"
	viewerToken  = "viewer-token-0123456789abcdef"
)

// clock is a settable clock shared by auth and the console.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// stack is the real runner behind the console: the engine on the shipped
// bundle, a SQLite store, the pipeline with the console's tap, the API
// with authentication and the console, served by httptest.
type stack struct {
	url      string
	auth     *auth.Auth
	alerts   *alert.Service
	tap      *console.Tap
	silences *silence.Service
	clock    *clock
}

func newStack(t testing.TB) *stack {
	t.Helper()
	ctx := t.Context()
	log := slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	engine, err := policy.NewEngine(ctx, shippedBundle, log)
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	db, err := sqldb.Open(ctx, filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store, err := alertsqlite.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s := &stack{clock: &clock{now: time.Now().UTC().Truncate(time.Second)}}
	if s.alerts, err = alert.NewService(store, alert.Options{Logger: log}); err != nil {
		t.Fatal(err)
	}
	if s.tap, err = console.NewTap(ctx, db, console.TapOptions{Now: s.clock.Now}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.tap.Close)
	// Without features.log_features: an alert keeps the features and scores
	// its decision saw all the same, and its page shows them.
	fe, err := feature.NewEngine(engine.Current().Features, feature.NewMemoryStore(feature.MemoryOptions{}), feature.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pipe, err := pipeline.New(engine, pipeline.Options{Env: "test", Features: fe, Alerts: s.alerts, Decisions: s.tap, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	s.auth, err = auth.New(ctx, auth.Options{
		Users: []auth.User{
			{Name: "root", Role: auth.Admin, TokenSHA256: auth.HashToken(adminToken)},
			{Name: "ana", Role: auth.Analyst, TokenSHA256: auth.HashToken(analystToken)},
			{Name: "vic", Role: auth.Viewer, TokenSHA256: auth.HashToken(viewerToken)},
		},
		Key: []byte("0123456789abcdef0123456789abcdef"), DB: db, Now: s.clock.Now, Log: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.silences, err = silence.New(ctx, db, silence.Options{Now: s.clock.Now}); err != nil {
		t.Fatal(err)
	}
	con, err := console.New(console.Options{Auth: s.auth, Alerts: s.alerts, Silences: s.silences, Policy: engine.Current, Tap: s.tap,
		Config:  func() ([]byte, error) { return []byte("server:\n  listen: :8080\n"), nil },
		Version: "test", Now: s.clock.Now, Log: log})
	if err != nil {
		t.Fatalf("console: %v", err)
	}
	srv := httptest.NewServer(server.New(pipe, server.Options{Alerts: s.alerts, Auth: s.auth, Console: con, Log: log}).Handler())
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// testLog writes the server's warnings and errors to the test's log.
type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// decide posts a record to the API as the admin, raising its alerts.
func (s *stack) decide(t testing.TB, rec string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.url+"/v1/decide", strings.NewReader(rec))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("decide: %d %s", resp.StatusCode, b)
	}
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
}

type page struct {
	status   int
	location string
	body     string
}

func (s *stack) browser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: s.url, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body)}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the first CSRF token on a page.
func csrf(t testing.TB, p page) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no csrf field on the page:\n%s", p.body)
	}
	return m[1]
}

// login logs in with a token and returns the CSRF token of the next page.
func (b *browser) login(token string) string {
	b.t.Helper()
	lp := b.get("/console/login")
	if lp.status != http.StatusOK {
		b.t.Fatalf("login page: %d", lp.status)
	}
	p := b.post("/console/login", url.Values{"csrf": {csrf(b.t, lp)}, "token": {token}, "next": {"/console/alerts"}})
	if p.status != http.StatusSeeOther || p.location != "/console/alerts" {
		b.t.Fatalf("login: %d %q %s", p.status, p.location, p.body)
	}
	q := b.get("/console/alerts")
	if q.status != http.StatusOK {
		b.t.Fatalf("queue after login: %d %s", q.status, q.body)
	}
	return csrf(b.t, q)
}
