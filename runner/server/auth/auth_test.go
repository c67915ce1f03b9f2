package auth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/server/auth"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

const (
	aliceToken = "alice-token-0123456789abcdef"
	bobToken   = "bob-token-0123456789abcdef"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// clock is a settable clock.
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

func users() []auth.User {
	return []auth.User{
		{Name: "alice", Role: auth.Analyst, TokenSHA256: auth.HashToken(aliceToken)},
		{Name: "bob", Role: auth.Viewer, TokenSHA256: auth.HashToken(bobToken)},
	}
}

// newAuth is an Auth over a real SQLite file, on a settable clock.
func newAuth(t *testing.T, us []auth.User, key []byte) (*auth.Auth, *clock) {
	t.Helper()
	db, err := sqldb.Open(t.Context(), filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := &clock{now: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	a, err := auth.New(t.Context(), auth.Options{Users: us, Key: key, SessionTTL: time.Hour, LinkTTL: 24 * time.Hour, DB: db, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return a, c
}

func TestRolePermissions(t *testing.T) {
	perms := []auth.Permission{auth.Read, auth.Act, auth.Decide, auth.Administer, auth.Scrape}
	want := map[auth.Role]string{ // one letter per permission above: y can, - cannot
		auth.Viewer:  "y---y",
		auth.Analyst: "yy--y",
		auth.Admin:   "yyyyy",
		auth.Service: "--y-y",
		"intruder":   "-----",
	}
	for role, w := range want {
		for i, p := range perms {
			if got := role.Can(p); got != (w[i] == 'y') {
				t.Errorf("%s.Can(%s) = %v, want %v", role, p, got, !got)
			}
		}
	}
	if _, err := auth.ParseRole("root"); err == nil {
		t.Error("ParseRole(root) passed")
	}
}

func TestDirectoryRefusesAmbiguity(t *testing.T) {
	h := auth.HashToken(aliceToken)
	for name, us := range map[string][]auth.User{
		"same name":  {{Name: "a", Role: auth.Admin, TokenSHA256: h}, {Name: "a", Role: auth.Viewer, TokenSHA256: auth.HashToken(bobToken)}},
		"same token": {{Name: "a", Role: auth.Admin, TokenSHA256: h}, {Name: "b", Role: auth.Viewer, TokenSHA256: h}},
		"bad role":   {{Name: "a", Role: "root", TokenSHA256: h}},
		"no name":    {{Role: auth.Admin, TokenSHA256: h}},
	} {
		if _, err := auth.NewDirectory(us); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := auth.New(t.Context(), auth.Options{Key: []byte("short")}); err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Errorf("a short key: %v", err)
	}
}

func TestBearer(t *testing.T) {
	a, _ := newAuth(t, users(), testKey)
	tests := []struct {
		header string
		want   string
		err    error
	}{
		{"Bearer " + aliceToken, "alice", nil},
		{"bearer " + bobToken, "bob", nil},
		{"", "", auth.ErrNoCredentials},
		{"Basic " + aliceToken, "", auth.ErrNoCredentials},
		{"Bearer " + aliceToken + "x", "", auth.ErrBadToken},
		{"Bearer ", "", auth.ErrNoCredentials},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/v1/alerts", nil)
		if tt.header != "" {
			r.Header.Set("Authorization", tt.header)
		}
		p, err := a.Bearer(r)
		if !errors.Is(err, tt.err) || p.Name != tt.want {
			t.Errorf("%q: %+v, %v; want %q, %v", tt.header, p, err, tt.want, tt.err)
		}
	}
}

// login starts a session for u and returns the request that carries its cookie.
func login(t *testing.T, a *auth.Auth, token string) (*http.Request, auth.Session) {
	t.Helper()
	w := httptest.NewRecorder()
	s, err := a.Login(w, httptest.NewRequest(http.MethodPost, "/console/login", nil), token)
	if err != nil {
		t.Fatal(err)
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("login set %d cookies", len(cookies))
	}
	c := cookies[0]
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != auth.ConsolePath || c.Name != auth.SessionCookie {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/console", c)
	}
	r := httptest.NewRequest(http.MethodGet, "/console/alerts", nil)
	r.AddCookie(c)
	return r, s
}

func TestSessions(t *testing.T) {
	a, clk := newAuth(t, users(), testKey)
	r, s := login(t, a, aliceToken)
	got, err := a.Session(r)
	if err != nil || got.Name != "alice" || got.Role != auth.Analyst || got.CSRF() != s.CSRF() || got.CSRF() == "" {
		t.Fatalf("Session: %+v, %v", got, err)
	}
	if _, err := a.Login(httptest.NewRecorder(), r, "nope-nope-nope-nope"); !errors.Is(err, auth.ErrBadToken) {
		t.Errorf("login with a wrong token: %v", err)
	}

	t.Run("tampered", func(t *testing.T) {
		c, _ := r.Cookie(auth.SessionCookie)
		raw, _ := base64.RawURLEncoding.DecodeString(c.Value)
		for _, i := range []int{0, 5, 20, len(raw) - 40, len(raw) - 1} {
			bad := append([]byte(nil), raw...)
			bad[i] ^= 1
			req := httptest.NewRequest(http.MethodGet, "/console/alerts", nil)
			req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: base64.RawURLEncoding.EncodeToString(bad)})
			if _, err := a.Session(req); !errors.Is(err, auth.ErrBadSession) {
				t.Errorf("byte %d flipped: %v", i, err)
			}
		}
	})
	t.Run("another key", func(t *testing.T) {
		other, _ := newAuth(t, users(), []byte("another key, another server, 32+"))
		if _, err := other.Session(r); !errors.Is(err, auth.ErrBadSession) {
			t.Errorf("a session signed by another key: %v", err)
		}
	})
	t.Run("token rotated or user removed", func(t *testing.T) {
		rotated := users()
		rotated[0].TokenSHA256 = auth.HashToken("alice-new-token-0123456789")
		b, _ := newAuth(t, rotated, testKey)
		if _, err := b.Session(r); !errors.Is(err, auth.ErrBadSession) {
			t.Errorf("after rotating the token: %v", err)
		}
		c, _ := newAuth(t, users()[1:], testKey)
		if _, err := c.Session(r); !errors.Is(err, auth.ErrBadSession) {
			t.Errorf("after removing the user: %v", err)
		}
	})
	t.Run("role read afresh", func(t *testing.T) {
		promoted := users()
		promoted[0].Role = auth.Admin
		b, _ := newAuth(t, promoted, testKey)
		if s, err := b.Session(r); err != nil || s.Role != auth.Admin {
			t.Errorf("after promoting alice: %+v, %v", s, err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		clk.Add(time.Hour)
		if _, err := a.Session(r); !errors.Is(err, auth.ErrBadSession) {
			t.Errorf("after the TTL: %v", err)
		}
	})
	if _, err := a.Session(httptest.NewRequest(http.MethodGet, "/", nil)); !errors.Is(err, auth.ErrNoCredentials) {
		t.Errorf("no cookie: %v", err)
	}
}

func TestCSRF(t *testing.T) {
	a, _ := newAuth(t, users(), testKey)
	_, s := login(t, a, aliceToken)
	_, other := login(t, a, aliceToken)
	if s.CSRF() == other.CSRF() {
		t.Fatal("two sessions share a CSRF token")
	}
	post := func(field, header string) *http.Request {
		form := url.Values{}
		if field != "" {
			form.Set(auth.CSRFField, field)
		}
		r := httptest.NewRequest(http.MethodPost, "/console/alerts/1/ack", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if header != "" {
			r.Header.Set(auth.CSRFHeader, header)
		}
		return r
	}
	for name, tt := range map[string]struct {
		r  *http.Request
		ok bool
	}{
		"form field":      {post(s.CSRF(), ""), true},
		"header":          {post("", s.CSRF()), true},
		"missing":         {post("", ""), false},
		"another session": {post(other.CSRF(), ""), false},
		"truncated":       {post(s.CSRF()[:10], ""), false},
	} {
		if err := s.CheckCSRF(tt.r); (err == nil) != tt.ok {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestLoginNonce(t *testing.T) {
	a, _ := newAuth(t, users(), testKey)
	w := httptest.NewRecorder()
	nonce := a.LoginNonce(w, httptest.NewRequest(http.MethodGet, "/console/login", nil))
	cookie := w.Result().Cookies()[0]
	post := func(field string, withCookie bool) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/console/login", strings.NewReader(url.Values{auth.CSRFField: {field}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if withCookie {
			r.AddCookie(cookie)
		}
		return r
	}
	if err := auth.CheckLoginNonce(post(nonce, true)); err != nil {
		t.Errorf("the form's nonce and cookie: %v", err)
	}
	if err := auth.CheckLoginNonce(post(nonce, false)); err == nil {
		t.Error("a login without the cookie passed")
	}
	if err := auth.CheckLoginNonce(post("0123456789abcdef0123456789abcdef", true)); err == nil {
		t.Error("a login with another nonce passed")
	}
}

func TestLinks(t *testing.T) {
	a, clk := newAuth(t, users(), testKey)
	ctx := t.Context()
	token, err := a.SignLink(7, auth.LinkAck, "dingtalk-ops")
	if err != nil {
		t.Fatal(err)
	}
	l, err := a.ParseLink(token)
	if err != nil || l.AlertID != 7 || l.Action != auth.LinkAck || l.Actor != "dingtalk-ops" || !l.Expires.Equal(clk.Now().Add(24*time.Hour)) {
		t.Fatalf("ParseLink: %+v, %v", l, err)
	}
	if again, _ := a.SignLink(7, auth.LinkAck, "dingtalk-ops"); again == token {
		t.Error("two links for the same action share a token: they must be used separately")
	}

	t.Run("altered", func(t *testing.T) {
		raw, _ := base64.RawURLEncoding.DecodeString(token)
		for i := range raw {
			bad := append([]byte(nil), raw...)
			bad[i] ^= 0x10
			if _, err := a.ParseLink(base64.RawURLEncoding.EncodeToString(bad)); !errors.Is(err, auth.ErrBadLink) {
				t.Fatalf("byte %d altered: %v", i, err)
			}
		}
		for _, bad := range []string{"", "x", token[:len(token)-1], token + "A", strings.ToUpper(token)} {
			if _, err := a.ParseLink(bad); !errors.Is(err, auth.ErrBadLink) {
				t.Errorf("%q: %v", bad, err)
			}
		}
		other, _ := newAuth(t, users(), []byte("another key, another server, 32+"))
		if _, err := other.ParseLink(token); !errors.Is(err, auth.ErrBadLink) {
			t.Errorf("a link signed with another key: %v", err)
		}
	})

	t.Run("single use", func(t *testing.T) {
		if _, used, err := a.LinkUse(ctx, l); used || err != nil {
			t.Fatalf("a fresh link: used %v, %v", used, err)
		}
		if err := a.UseLink(ctx, l, "carol"); err != nil {
			t.Fatal(err)
		}
		err := a.UseLink(ctx, l, "dave")
		if !errors.Is(err, auth.ErrLinkUsed) || !strings.Contains(err.Error(), "by carol") {
			t.Errorf("second use: %v, want ErrLinkUsed naming carol", err)
		}
		if u, used, err := a.LinkUse(ctx, l); !used || err != nil || u.By != "carol" {
			t.Errorf("LinkUse: %+v %v %v", u, used, err)
		}
	})

	t.Run("released after a failed action", func(t *testing.T) {
		tok, _ := a.SignLink(8, auth.LinkResolve, "slack-risk")
		l, _ := a.ParseLink(tok)
		if err := a.UseLink(ctx, l, "carol"); err != nil {
			t.Fatal(err)
		}
		if err := a.ReleaseLink(ctx, l); err != nil {
			t.Fatal(err)
		}
		if err := a.UseLink(ctx, l, "carol"); err != nil {
			t.Errorf("a released link: %v", err)
		}
	})

	t.Run("concurrent uses: one wins", func(t *testing.T) {
		tok, _ := a.SignLink(9, auth.LinkAck, "wecom")
		l, _ := a.ParseLink(tok)
		var wins, refused atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				switch err := a.UseLink(context.Background(), l, "x"); {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, auth.ErrLinkUsed):
					refused.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 || refused.Load() != 7 {
			t.Errorf("%d wins, %d refused; want 1 and 7", wins.Load(), refused.Load())
		}
	})

	t.Run("expired", func(t *testing.T) {
		clk.Add(24*time.Hour - time.Second)
		if _, err := a.ParseLink(token); err != nil {
			t.Errorf("a second before expiry: %v", err)
		}
		clk.Add(time.Second)
		if l, err := a.ParseLink(token); !errors.Is(err, auth.ErrLinkExpired) || l.AlertID != 7 {
			t.Errorf("at expiry: %+v, %v", l, err)
		}
	})

	for _, bad := range []struct {
		id            int64
		action, actor string
	}{{0, auth.LinkAck, "x"}, {1, "delete", "x"}, {1, auth.LinkAck, ""}, {1, auth.LinkAck, strings.Repeat("x", 65)}} {
		if _, err := a.SignLink(bad.id, bad.action, bad.actor); err == nil {
			t.Errorf("SignLink(%d, %q, %q) passed", bad.id, bad.action, bad.actor)
		}
	}
}

func TestLinkCSRF(t *testing.T) {
	a, _ := newAuth(t, users(), testKey)
	t1, _ := a.SignLink(1, auth.LinkAck, "ops")
	t2, _ := a.SignLink(1, auth.LinkAck, "ops")
	l1, _ := a.ParseLink(t1)
	l2, _ := a.ParseLink(t2)
	if err := a.CheckLinkCSRF(l1, a.LinkCSRF(l1)); err != nil {
		t.Error(err)
	}
	if err := a.CheckLinkCSRF(l1, a.LinkCSRF(l2)); err == nil {
		t.Error("another link's CSRF token passed")
	}
	if err := a.CheckLinkCSRF(l1, ""); err == nil {
		t.Error("no CSRF token passed")
	}
}

func TestReadOrCreateSecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), "var", "admin.token")
	s, created, err := auth.ReadOrCreateSecret(path, 32)
	if err != nil || !created || len(s) != 64 {
		t.Fatalf("first: %q %v %v", s, created, err)
	}
	info, _ := os.Stat(path)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", info.Mode().Perm())
	}
	again, created, err := auth.ReadOrCreateSecret(path, 32)
	if err != nil || created || again != s {
		t.Errorf("second: %q %v %v, want the same secret", again, created, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := auth.ReadOrCreateSecret(path, 32); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a world-readable secret: %v", err)
	}

	// Many starting at once agree on one secret.
	shared := filepath.Join(t.TempDir(), "server.key")
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Go(func() {
			var err error
			if got[i], _, err = auth.ReadOrCreateSecret(shared, 32); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, g := range got {
		if g != got[0] {
			t.Fatalf("concurrent starts disagree: %q", got)
		}
	}
}
