package auth

import (
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"time"
)

// SessionCookie is the console's session cookie; it is scoped to
// ConsolePath, HttpOnly and SameSite=Strict.
const (
	SessionCookie = "vigil_session"
	ConsolePath   = "/console"
	// CSRFField is the form field (or, as X-CSRF-Token, the header) that
	// carries a session's CSRF token on every POST.
	CSRFField  = "csrf"
	CSRFHeader = "X-CSRF-Token"
)

// Session is a logged-in console user.
type Session struct {
	Principal
	ID      []byte
	Expires time.Time
	csrf    string
}

// CSRF is the session's CSRF token, for every form it posts.
func (s Session) CSRF() string { return s.csrf }

// sessionVersion starts every session payload; a new layout gets a new one.
const sessionVersion = 1

// A session cookie is base64url(payload || HMAC(payload)), the payload
//
//	version (1) | expires unix (8) | id (16) | token fingerprint (8) | name
//
// The token fingerprint ties the session to the user's token: rotating the
// token ends every session it opened. The role is read afresh from the
// configuration on every request.
const (
	sessionIDBytes   = 16
	fingerprintBytes = 8
	sessionFixed     = 1 + 8 + sessionIDBytes + fingerprintBytes
)

// StartSession logs u in: it sets the session cookie on w and returns the
// session.
func (a *Auth) StartSession(w http.ResponseWriter, r *http.Request, u User) Session {
	expires := a.now().Add(a.sessionTTL).Truncate(time.Second)
	id := randomBytes(sessionIDBytes)
	p := make([]byte, 0, sessionFixed+len(u.Name)+32)
	p = append(p, sessionVersion)
	p = binary.BigEndian.AppendUint64(p, uint64(expires.Unix()))
	p = append(p, id...)
	p = append(p, u.TokenSHA256[:fingerprintBytes]...)
	p = append(p, u.Name...)
	p = append(p, mac(a.sessionKey, p)...)
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: base64.RawURLEncoding.EncodeToString(p), Path: ConsolePath,
		Expires: expires, MaxAge: int(a.sessionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure(r),
	})
	return a.session(u, id, expires)
}

func (a *Auth) session(u User, id []byte, expires time.Time) Session {
	return Session{
		Principal: Principal{Name: u.Name, Role: u.Role, Via: "session"},
		ID:        id, Expires: expires,
		csrf: base64.RawURLEncoding.EncodeToString(mac(a.csrfKey, id)[:24]),
	}
}

// Session returns the request's console session: ErrNoCredentials without
// a cookie, ErrBadSession for a forged, expired or orphaned one (its user
// removed or their token changed).
func (a *Auth) Session(r *http.Request) (Session, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return Session{}, ErrNoCredentials
	}
	p, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(p) < sessionFixed+1+32 || p[0] != sessionVersion {
		return Session{}, ErrBadSession
	}
	body, sum := p[:len(p)-32], p[len(p)-32:]
	if !hmac.Equal(sum, mac(a.sessionKey, body)) {
		return Session{}, ErrBadSession
	}
	expires := time.Unix(int64(binary.BigEndian.Uint64(body[1:9])), 0)
	id := body[9 : 9+sessionIDBytes]
	fp := body[9+sessionIDBytes : sessionFixed]
	name := string(body[sessionFixed:])
	if !a.now().Before(expires) {
		return Session{}, ErrBadSession
	}
	u, ok := a.users.User(name)
	if !ok || !bytes.Equal(u.TokenSHA256[:fingerprintBytes], fp) {
		return Session{}, ErrBadSession
	}
	return a.session(u, id, expires), nil
}

// EndSession logs out: the cookie is cleared. (A copy of the cookie kept
// elsewhere stays valid until it expires: sessions are not stored.)
func (a *Auth) EndSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: ConsolePath, MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure(r)})
}

// ErrCSRF is a POST without the session's CSRF token.
var ErrCSRF = errors.New("missing or wrong CSRF token: reload the page and try again")

// CheckCSRF checks a POST's CSRF token (the csrf form field or the
// X-CSRF-Token header) against the session's. The form must be parsed.
func (s Session) CheckCSRF(r *http.Request) error {
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		got = r.PostFormValue(CSRFField)
	}
	if got == "" || !hmac.Equal([]byte(got), []byte(s.csrf)) {
		return ErrCSRF
	}
	return nil
}

// secure tells whether the browser reached us over HTTPS (directly, or
// through a proxy that says so), so cookies are only ever sent back over it.
func secure(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

// Login CSRF: before there is a session, the login form is tied to the
// browser by a random value both in a cookie and in the form (double
// submit), so that another site cannot log a browser in as someone else.
const loginCookie = "vigil_login"

// LoginNonce returns the value the login form must carry, setting its
// cookie when the browser has none yet.
func (a *Auth) LoginNonce(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(loginCookie); err == nil && len(c.Value) == 32 {
		return c.Value
	}
	v := NewSecret(16)
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: v, Path: ConsolePath, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: secure(r), MaxAge: int(a.sessionTTL / time.Second)})
	return v
}

// CheckLoginNonce checks a login POST's csrf field against its cookie.
func CheckLoginNonce(r *http.Request) error {
	c, err := r.Cookie(loginCookie)
	got := r.PostFormValue(CSRFField)
	if err != nil || got == "" || !hmac.Equal([]byte(got), []byte(c.Value)) {
		return ErrCSRF
	}
	return nil
}

// Login checks a token typed into the login form and starts a session.
func (a *Auth) Login(w http.ResponseWriter, r *http.Request, token string) (Session, error) {
	u, ok := a.users.Authenticate(token)
	if !ok {
		return Session{}, ErrBadToken
	}
	return a.StartSession(w, r, u), nil
}
