package auth

import (
	"context"
	"crypto/hmac"
	"database/sql"
	"embed"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/vigil-risk/vigil/runner/sqldb"
)

// Link actions: what a link in a chat message may do.
const (
	LinkAck     = "ack"
	LinkResolve = "resolve"
)

// Link is a verified act-from-chat link: an action on one alert, for an
// identity (the receiver it was sent to), until it expires, once.
type Link struct {
	AlertID int64
	Action  string // LinkAck or LinkResolve
	Actor   string // who the link was sent to, e.g. the receiver's name
	Expires time.Time
	Nonce   string // hex; what makes it single-use
}

// MaxLinkActor is the longest identity a link carries.
const MaxLinkActor = 64

const linkVersion = 1

// A link token is base64url(payload || HMAC(payload)), the payload
//
//	version (1) | action (1) | expires unix (8) | nonce (12) | alert id (uvarint) | actor
const (
	linkNonceBytes = 12
	linkFixed      = 1 + 1 + 8 + linkNonceBytes
)

var linkActions = map[string]byte{LinkAck: 1, LinkResolve: 2}

// SignLink makes the token of a link that performs action on an alert for
// actor, valid for the configured link TTL.
func (a *Auth) SignLink(alertID int64, action, actor string) (string, error) {
	code, ok := linkActions[action]
	switch {
	case !ok:
		return "", fmt.Errorf("link action %q: want ack or resolve", action)
	case alertID < 1:
		return "", fmt.Errorf("link: alert id %d: want a positive id", alertID)
	case actor == "" || len(actor) > MaxLinkActor || !utf8.ValidString(actor):
		return "", fmt.Errorf("link: actor %q: want 1 to %d bytes of UTF-8", actor, MaxLinkActor)
	}
	expires := a.now().Add(a.linkTTL).Truncate(time.Second)
	p := make([]byte, 0, linkFixed+binary.MaxVarintLen64+len(actor)+32)
	p = append(p, linkVersion, code)
	p = binary.BigEndian.AppendUint64(p, uint64(expires.Unix()))
	p = append(p, randomBytes(linkNonceBytes)...)
	p = binary.AppendUvarint(p, uint64(alertID))
	p = append(p, actor...)
	p = append(p, mac(a.linkKey, p)...)
	return base64.RawURLEncoding.EncodeToString(p), nil
}

// ParseLink verifies a link token's signature and expiry (ErrBadLink,
// ErrLinkExpired); whether it was used is UsedLink's to say.
func (a *Auth) ParseLink(token string) (Link, error) {
	p, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(p) < linkFixed+1+32 || p[0] != linkVersion {
		return Link{}, ErrBadLink
	}
	body, sum := p[:len(p)-32], p[len(p)-32:]
	if !hmac.Equal(sum, mac(a.linkKey, body)) {
		return Link{}, ErrBadLink
	}
	l := Link{Expires: time.Unix(int64(binary.BigEndian.Uint64(body[2:10])), 0).UTC(),
		Nonce: hex.EncodeToString(body[10:linkFixed])}
	for name, code := range linkActions {
		if code == body[1] {
			l.Action = name
		}
	}
	id, n := binary.Uvarint(body[linkFixed:])
	if l.Action == "" || n <= 0 || id < 1 || id > 1<<62 {
		return Link{}, ErrBadLink
	}
	l.AlertID, l.Actor = int64(id), string(body[linkFixed+n:])
	if !a.now().Before(l.Expires) {
		return l, ErrLinkExpired
	}
	return l, nil
}

// UsedLink is who used a link and when.
type UsedLink struct {
	By string
	At time.Time
}

// LinkUse returns how a link was used, if it was.
func (a *Auth) LinkUse(ctx context.Context, l Link) (UsedLink, bool, error) {
	if a.links == nil {
		return UsedLink{}, false, errNoLinkStore
	}
	return a.links.used(ctx, l.Nonce)
}

// UseLink marks a link used by actor, or returns ErrLinkUsed (wrapped, with
// who used it) when it already was. Call it before acting, and ReleaseLink
// if the action then fails, so that a link acts at most once.
func (a *Auth) UseLink(ctx context.Context, l Link, actor string) error {
	if a.links == nil {
		return errNoLinkStore
	}
	return a.links.use(ctx, l, actor, a.now())
}

// ReleaseLink forgets a use whose action failed: nothing was done, so the
// link may be tried again.
func (a *Auth) ReleaseLink(ctx context.Context, l Link) error {
	if a.links == nil {
		return errNoLinkStore
	}
	return a.links.release(ctx, l.Nonce)
}

// LinkCSRF is the CSRF token of a link's confirmation form: the page is
// reached without a session, so the form is tied to the link itself.
func (a *Auth) LinkCSRF(l Link) string {
	return base64.RawURLEncoding.EncodeToString(mac(a.csrfKey, []byte("link"), []byte(l.Nonce))[:24])
}

// CheckLinkCSRF checks the confirmation form's csrf field.
func (a *Auth) CheckLinkCSRF(l Link, got string) error {
	if got == "" || !hmac.Equal([]byte(got), []byte(a.LinkCSRF(l))) {
		return ErrCSRF
	}
	return nil
}

var errNoLinkStore = errors.New("links need the store (no database configured)")

//go:embed migrations/*.sql
var migrations embed.FS

// Component is the auth tables' name in schema_migrations.
const Component = "auth"

type linkStore struct{ db *sql.DB }

func newLinkStore(ctx context.Context, db *sql.DB) (*linkStore, error) {
	if err := sqldb.Migrate(ctx, db, Component, migrations); err != nil {
		return nil, err
	}
	return &linkStore{db: db}, nil
}

func (s *linkStore) used(ctx context.Context, nonce string) (UsedLink, bool, error) {
	var u UsedLink
	var at string
	err := s.db.QueryRowContext(ctx, `SELECT used_by, used_at FROM auth_used_links WHERE nonce = ?`, nonce).Scan(&u.By, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return UsedLink{}, false, nil
	}
	if err != nil {
		return UsedLink{}, false, fmt.Errorf("used links: %w", err)
	}
	if u.At, err = sqldb.ParseTime(at); err != nil {
		return UsedLink{}, false, fmt.Errorf("used links: %w", err)
	}
	return u, true, nil
}

func (s *linkStore) use(ctx context.Context, l Link, actor string, now time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("used links: %w", err)
	}
	defer tx.Rollback()
	// Links past their expiry are refused by their signature's date: their
	// nonces need not be kept.
	if _, err := tx.ExecContext(ctx, `DELETE FROM auth_used_links WHERE expires_at < ?`, sqldb.FormatTime(now)); err != nil {
		return fmt.Errorf("used links: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO auth_used_links (nonce, alert_id, action, used_by, used_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		l.Nonce, l.AlertID, l.Action, actor, sqldb.FormatTime(now), sqldb.FormatTime(l.Expires))
	if sqldb.IsUniqueViolation(err) {
		tx.Rollback()
		u, found, uerr := s.used(ctx, l.Nonce)
		if uerr != nil || !found {
			return ErrLinkUsed
		}
		return fmt.Errorf("%w by %s at %s", ErrLinkUsed, u.By, u.At.Format(time.RFC3339))
	}
	if err != nil {
		return fmt.Errorf("used links: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("used links: %w", err)
	}
	return nil
}

func (s *linkStore) release(ctx context.Context, nonce string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM auth_used_links WHERE nonce = ?`, nonce); err != nil {
		return fmt.Errorf("used links: %w", err)
	}
	return nil
}
