package auth

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// User is one configured user: a name, a role and the SHA-256 of their token.
type User struct {
	Name        string
	Role        Role
	TokenSHA256 [sha256.Size]byte
}

// ParseTokenHash reads a hex SHA-256.
func ParseTokenHash(s string) ([sha256.Size]byte, error) {
	var h [sha256.Size]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return h, fmt.Errorf("token hash %q: want 64 hex digits", s)
	}
	copy(h[:], b)
	return h, nil
}

// HashToken is the SHA-256 of a token, as users are configured with.
func HashToken(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

// Directory finds users by token and by name.
type Directory struct {
	byHash map[[sha256.Size]byte]User
	byName map[string]User
}

// NewDirectory indexes users. Two users with one name or one token are an
// error: a token must say who is acting.
func NewDirectory(users []User) (*Directory, error) {
	d := &Directory{byHash: make(map[[sha256.Size]byte]User, len(users)), byName: make(map[string]User, len(users))}
	for _, u := range users {
		if u.Name == "" {
			return nil, fmt.Errorf("a user has no name")
		}
		if _, err := ParseRole(string(u.Role)); err != nil {
			return nil, fmt.Errorf("user %s: %w", u.Name, err)
		}
		if _, dup := d.byName[u.Name]; dup {
			return nil, fmt.Errorf("user %s is configured twice", u.Name)
		}
		if other, dup := d.byHash[u.TokenSHA256]; dup {
			return nil, fmt.Errorf("users %s and %s have the same token: give each its own", other.Name, u.Name)
		}
		d.byHash[u.TokenSHA256] = u
		d.byName[u.Name] = u
	}
	return d, nil
}

// Authenticate returns the user whose token this is. The lookup is by the
// token's SHA-256, so its timing says nothing about any stored hash.
func (d *Directory) Authenticate(token string) (User, bool) {
	if token == "" {
		return User{}, false
	}
	u, ok := d.byHash[HashToken(token)]
	return u, ok
}

// User returns the user called name.
func (d *Directory) User(name string) (User, bool) {
	u, ok := d.byName[name]
	return u, ok
}

// List returns the users sorted by role, then name.
func (d *Directory) List() []User {
	out := make([]User, 0, len(d.byName))
	for _, u := range d.byName {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b User) int {
		return cmp.Or(cmp.Compare(roleOrder(a.Role), roleOrder(b.Role)), strings.Compare(a.Name, b.Name))
	})
	return out
}

// Len is the number of users.
func (d *Directory) Len() int { return len(d.byName) }

func roleOrder(r Role) int {
	switch r {
	case Admin:
		return 0
	case Analyst:
		return 1
	case Viewer:
		return 2
	}
	return 3
}

// BearerToken is the token of an "Authorization: Bearer <token>" header, or "".
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// Bearer authenticates a request by its bearer token: ErrNoCredentials
// without one, ErrBadToken when no user has it.
func (a *Auth) Bearer(r *http.Request) (Principal, error) {
	token := BearerToken(r)
	if token == "" {
		return Principal{}, ErrNoCredentials
	}
	u, ok := a.users.Authenticate(token)
	if !ok {
		return Principal{}, ErrBadToken
	}
	return Principal{Name: u.Name, Role: u.Role, Via: "token"}, nil
}
