// Package console is Vigil's web console: server-rendered pages embedded in
// the binary (html/template, one stylesheet and one script, no CDN) for the
// alert queue, an alert's records, decision, audit trail and actions,
// silences, rules with their hit counts and precision, a live decision
// stream, and the confirmation pages of act-from-chat links.
//
// Everything works without JavaScript but the live stream; with it, the
// queue and an alert answer to the keyboard (j/k, a, r, /, ?). Every page
// needs a session whose role allows it, every form carries the session's
// CSRF token, and every action names the logged-in user as its actor.
package console

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/notify/silence"
	"github.com/vigil-risk/vigil/runner/policy"
	"github.com/vigil-risk/vigil/runner/server/auth"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure the console.
type Options struct {
	Auth     *auth.Auth            // required: sessions, CSRF tokens, links
	Alerts   *alert.Service        // required
	Silences *silence.Service      // nil: no silences page
	Policy   func() *policy.Policy // the policy now loaded; required
	Tap      *Tap                  // the live stream and rule hit counts; nil: neither
	// Config renders the effective configuration, secrets redacted, for
	// admins; nil: not shown.
	Config  func() ([]byte, error)
	Version string
	Now     func() time.Time
	Log     *slog.Logger
}

// Console serves the console's pages under /console/.
type Console struct {
	opts   Options
	pages  map[string]*template.Template
	static http.Handler
	mux    *http.ServeMux
	log    *slog.Logger
}

// pageNames are the page templates; each is parsed with the layout.
var pageNames = []string{"login", "alerts", "alert", "bulk", "silences", "rules", "live", "admin", "act", "message"}

// New parses the templates and builds the routes.
func New(opts Options) (*Console, error) {
	switch {
	case opts.Auth == nil:
		return nil, errors.New("console: Auth is required")
	case opts.Alerts == nil:
		return nil, errors.New("console: Alerts is required")
	case opts.Policy == nil:
		return nil, errors.New("console: Policy is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	c := &Console{opts: opts, pages: map[string]*template.Template{}, log: opts.Log}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err) // a build defect, caught by tests
		}
		c.pages[name] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	c.static = http.StripPrefix(auth.ConsolePath+"/static/", http.FileServerFS(static))
	c.routes()
	return c, nil
}

func (c *Console) routes() {
	m := http.NewServeMux()
	p := auth.ConsolePath
	m.HandleFunc("GET "+p+"/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, p+"/alerts", http.StatusFound)
	})
	m.HandleFunc("GET "+p+"/static/", c.serveStatic)
	m.HandleFunc("GET "+p+"/login", c.loginPage)
	m.HandleFunc("POST "+p+"/login", c.login)
	m.HandleFunc("POST "+p+"/logout", c.guard(auth.Read, c.logout))

	m.HandleFunc("GET "+p+"/alerts", c.guard(auth.Read, c.queue))
	m.HandleFunc("GET "+p+"/alerts/{id}", c.guard(auth.Read, c.detail))
	m.HandleFunc("POST "+p+"/alerts/{id}/{action}", c.guard(auth.Act, c.act))
	m.HandleFunc("POST "+p+"/alerts/bulk", c.guard(auth.Act, c.bulk))
	m.HandleFunc("GET "+p+"/rules", c.guard(auth.Read, c.rules))
	if c.opts.Silences != nil {
		m.HandleFunc("GET "+p+"/silences", c.guard(auth.Read, c.silences))
		m.HandleFunc("POST "+p+"/silences", c.guard(auth.Act, c.createSilence))
		m.HandleFunc("POST "+p+"/silences/{id}/expire", c.guard(auth.Act, c.expireSilence))
	}
	if c.opts.Tap != nil {
		m.HandleFunc("GET "+p+"/live", c.guard(auth.Read, c.live))
		m.HandleFunc("GET "+p+"/stream", c.guard(auth.Read, c.stream))
	}
	m.HandleFunc("GET "+p+"/admin", c.guard(auth.Administer, c.admin))
	m.HandleFunc("GET "+p+"/act", c.linkPage)
	m.HandleFunc("POST "+p+"/act", c.linkAct)
	m.HandleFunc("GET "+p+"/act/{token}", c.linkPage)
	m.HandleFunc("POST "+p+"/act/{token}", c.linkAct)
	m.HandleFunc(p+"/", func(w http.ResponseWriter, r *http.Request) {
		c.message(w, r, nil, http.StatusNotFound, "Not found", "There is no console page at "+r.URL.Path+".")
	})
	c.mux = m
}

// ServeHTTP serves the console with its security headers: no framing, no
// script or style from anywhere but here, no referrer (a link's token is in
// its path), and pages never cached (they show alerts).
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	if !strings.HasPrefix(r.URL.Path, auth.ConsolePath+"/static/") {
		h.Set("Cache-Control", "no-store")
	}
	c.mux.ServeHTTP(w, r)
}

func (c *Console) serveStatic(w http.ResponseWriter, r *http.Request) {
	// The files change only with the binary; ?v=<version> in the links
	// makes a new one fetch them afresh.
	w.Header().Set("Cache-Control", "public, max-age=3600")
	c.static.ServeHTTP(w, r)
}

// handler is a page or form behind a session.
type handler func(w http.ResponseWriter, r *http.Request, s auth.Session)

// maxForm bounds a form's body.
const maxForm = 64 << 10

// guard lets a request through with a session whose role has perm; a POST
// must also carry the session's CSRF token. Without a session, a page
// sends the browser to the login page and back.
func (c *Console) guard(perm auth.Permission, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := c.opts.Auth.Session(r)
		if err != nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, auth.ConsolePath+"/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.message(w, r, nil, http.StatusUnauthorized, "Logged out", "Your session has ended. Log in again, then retry.")
			return
		}
		if !s.Role.Can(perm) {
			c.message(w, r, &s, http.StatusForbidden, "Not allowed",
				fmt.Sprintf("%s, your role %s may not %s.", s.Name, s.Role, perm))
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := r.ParseForm(); err != nil {
				c.message(w, r, &s, http.StatusBadRequest, "Bad form", "The form could not be read: "+err.Error())
				return
			}
			if err := s.CheckCSRF(r); err != nil {
				c.message(w, r, &s, http.StatusForbidden, "Form expired", "This form was not made by this session ("+err.Error()+").")
				return
			}
		}
		h(w, r, s)
	}
}

// view is what every page template sees.
type view struct {
	Title   string
	Nav     string // the highlighted menu entry
	Session *auth.Session
	CanAct  bool
	IsAdmin bool
	Notice  string // what just succeeded
	Error   string // what just failed
	Version string
	Live    bool // the live page exists
	Silence bool // the silences page exists
	Data    any
}

func (c *Console) view(s *auth.Session, title, nav string, data any) view {
	v := view{Title: title, Nav: nav, Session: s, Version: c.opts.Version, Data: data,
		Live: c.opts.Tap != nil, Silence: c.opts.Silences != nil}
	if s != nil {
		v.CanAct, v.IsAdmin = s.Role.Can(auth.Act), s.Role.Can(auth.Administer)
	}
	return v
}

// render writes a page; a template failure is logged and is a plain 500.
func (c *Console) render(w http.ResponseWriter, status int, page string, v view) {
	var buf bytes.Buffer
	if err := c.pages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		c.log.Error("console: rendering a page failed", "page", page, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// message is a page that only says something: a refusal, an error.
func (c *Console) message(w http.ResponseWriter, _ *http.Request, s *auth.Session, status int, title, text string) {
	v := c.view(s, title, "", nil)
	if status >= 400 {
		v.Error = text
	} else {
		v.Notice = text
	}
	c.render(w, status, "message", v)
}

// localPath keeps a "back" URL only when it is a console page, so a form
// can never send the browser elsewhere.
func localPath(s, fallback string) string {
	u, err := url.Parse(s)
	if s == "" || err != nil || u.IsAbs() || u.Host != "" || !strings.HasPrefix(u.Path, auth.ConsolePath+"/") ||
		strings.Contains(u.Path, "..") || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\\r\n") {
		return fallback
	}
	return s
}
