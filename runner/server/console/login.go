package console

import (
	"net/http"
	"strings"

	"github.com/vigil-risk/vigil/runner/server/auth"
)

type loginData struct {
	Next  string
	CSRF  string // the login form's double-submit value
	Token string // never echoed; here so the form can stay empty
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"), auth.ConsolePath+"/alerts")
	if s, err := c.opts.Auth.Session(r); err == nil && s.Role.Can(auth.Read) {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	v := c.view(nil, "Log in", "", loginData{Next: next, CSRF: c.opts.Auth.LoginNonce(w, r)})
	c.render(w, http.StatusOK, "login", v)
}

// login exchanges a token for a session cookie.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		c.message(w, r, nil, http.StatusBadRequest, "Bad form", "The form could not be read: "+err.Error())
		return
	}
	next := localPath(r.PostFormValue("next"), auth.ConsolePath+"/alerts")
	fail := func(status int, msg string) {
		v := c.view(nil, "Log in", "", loginData{Next: next, CSRF: c.opts.Auth.LoginNonce(w, r)})
		v.Error = msg
		c.render(w, status, "login", v)
	}
	if err := auth.CheckLoginNonce(r); err != nil {
		fail(http.StatusForbidden, "The login form expired: try again.")
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	u, ok := c.opts.Auth.Users().Authenticate(token)
	switch {
	case !ok:
		c.log.Warn("console: failed login", "remote", r.RemoteAddr)
		fail(http.StatusUnauthorized, "Unknown token.")
		return
	case !u.Role.Can(auth.Read):
		fail(http.StatusForbidden, "User "+u.Name+" has the role "+string(u.Role)+", which cannot use the console.")
		return
	}
	c.opts.Auth.StartSession(w, r, u)
	c.log.Info("console: logged in", "user", u.Name, "role", string(u.Role))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s auth.Session) {
	c.opts.Auth.EndSession(w, r)
	c.log.Info("console: logged out", "user", s.Name)
	http.Redirect(w, r, auth.ConsolePath+"/login", http.StatusSeeOther)
}
