// Package auth is who may do what on Vigil's HTTP surface: users with a role
// and a bearer token (the API), console sessions in a signed cookie with a
// CSRF token each, and signed, expiring, single-use links that let someone
// acknowledge or resolve an alert from a chat message.
//
// Tokens are never kept: a user is configured with the SHA-256 of theirs.
// One server key signs sessions and links; each use gets its own key derived
// from it, so that a session can never pass for a link or the reverse.
package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Role is what a user is allowed to do.
type Role string

const (
	Viewer  Role = "viewer"  // reads alerts, silences, notifications, rules and the live stream
	Analyst Role = "analyst" // reads, and acts on alerts and silences
	Admin   Role = "admin"   // everything, the configuration included
	Service Role = "service" // a machine that decides records, and nothing else
)

// ParseRole accepts viewer, analyst, admin or service.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case Viewer, Analyst, Admin, Service:
		return r, nil
	}
	return "", fmt.Errorf("role %q: want viewer, analyst, admin or service", s)
}

// Permission is a kind of request.
type Permission int

const (
	Read       Permission = iota // read alerts, silences, notifications, rules, the stream
	Act                          // change alerts and silences
	Decide                       // decide records (POST /v1/decide, /v1/records)
	Administer                   // the configuration, users, and anything not named above
	Scrape                       // read /metrics when it is protected: any role
)

func (p Permission) String() string {
	switch p {
	case Read:
		return "read"
	case Act:
		return "act on alerts and silences"
	case Decide:
		return "decide records"
	case Administer:
		return "administer"
	case Scrape:
		return "read metrics"
	}
	return fmt.Sprintf("permission %d", int(p))
}

// Can reports whether the role has the permission.
func (r Role) Can(p Permission) bool {
	switch r {
	case Admin:
		return true
	case Analyst:
		return p == Read || p == Act || p == Scrape
	case Viewer:
		return p == Read || p == Scrape
	case Service:
		return p == Decide || p == Scrape
	}
	return false
}

// RolesFor names the roles with a permission, for refusals.
func RolesFor(p Permission) []Role {
	var out []Role
	for _, r := range []Role{Viewer, Analyst, Admin, Service} {
		if r.Can(p) {
			out = append(out, r)
		}
	}
	return out
}

// Principal is who makes a request, and how they proved it.
type Principal struct {
	Name string
	Role Role
	Via  string // "token", "session" or "link"
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal a request was authenticated as.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Errors of authentication.
var (
	ErrNoCredentials = errors.New("no credentials")
	ErrBadToken      = errors.New("unknown token")
	ErrBadSession    = errors.New("invalid or expired session")
	ErrBadLink       = errors.New("invalid link")
	ErrLinkExpired   = errors.New("link expired")
	ErrLinkUsed      = errors.New("link already used")
)

// MinKeyBytes is the shortest server key accepted.
const MinKeyBytes = 32

// Options configure an Auth.
type Options struct {
	Users      []User
	Key        []byte        // the server key, at least MinKeyBytes
	SessionTTL time.Duration // default 12h
	LinkTTL    time.Duration // default 24h
	// DB keeps the used chat links (single use); nil: links are refused.
	DB  *sql.DB
	Now func() time.Time // default time.Now
	Log *slog.Logger
}

// Auth authenticates requests and signs sessions and links. It is safe for
// concurrent use.
type Auth struct {
	users      *Directory
	sessionKey []byte
	csrfKey    []byte
	linkKey    []byte
	sessionTTL time.Duration
	linkTTL    time.Duration
	links      *linkStore
	now        func() time.Time
	log        *slog.Logger
}

// New checks the options, and applies the used-link table's migrations
// when there is a database.
func New(ctx context.Context, opts Options) (*Auth, error) {
	if len(opts.Key) < MinKeyBytes {
		return nil, fmt.Errorf("auth: the server key is %d bytes, want at least %d", len(opts.Key), MinKeyBytes)
	}
	dir, err := NewDirectory(opts.Users)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	a := &Auth{
		users:      dir,
		sessionKey: derive(opts.Key, "vigil session v1"),
		csrfKey:    derive(opts.Key, "vigil csrf v1"),
		linkKey:    derive(opts.Key, "vigil link v1"),
		sessionTTL: opts.SessionTTL,
		linkTTL:    opts.LinkTTL,
		now:        opts.Now,
		log:        opts.Log,
	}
	if a.sessionTTL <= 0 {
		a.sessionTTL = 12 * time.Hour
	}
	if a.linkTTL <= 0 {
		a.linkTTL = 24 * time.Hour
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if opts.DB != nil {
		if a.links, err = newLinkStore(ctx, opts.DB); err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
	}
	return a, nil
}

// Users is the user directory.
func (a *Auth) Users() *Directory { return a.users }

// derive is a key for one purpose: HMAC-SHA256(key, label).
func derive(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

func mac(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}
