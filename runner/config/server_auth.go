package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Roles a user may have: what each may do is the server's business
// (runner/server/auth); the config only checks the names.
const (
	RoleViewer  = "viewer"  // reads alerts, silences, rules and the live stream
	RoleAnalyst = "analyst" // and acts on alerts and silences
	RoleAdmin   = "admin"   // and everything else: the configuration, users
	RoleService = "service" // a machine: decides records (POST /v1/decide, /v1/records) and nothing else
)

// Roles lists the roles, weakest person first, then the machine role.
func Roles() []string { return []string{RoleViewer, RoleAnalyst, RoleAdmin, RoleService} }

// AuthConfig is who may use the API and the console (server.auth). Users
// are keyed by name, so that one can be added from the environment:
// VIGIL_SERVER__AUTH__USERS__CI__ROLE=service and
// VIGIL_SERVER__AUTH__USERS__CI__TOKEN_ENV=CI_TOKEN add user "ci".
type AuthConfig struct {
	Users map[string]UserConfig `koanf:"users"`

	// The server key signs console sessions and the links in chat
	// messages. Every replica behind one address needs the same key; by
	// default it is made at first start and kept beside the store.
	KeyEnv  string `koanf:"key_env"`  // an environment variable holding the key (at least 32 characters)
	KeyFile string `koanf:"key_file"` // or a file holding it; empty: <store dir>/server.key, made when missing

	SessionTTL     time.Duration `koanf:"session_ttl"`     // a console login lasts this long
	LinkTTL        time.Duration `koanf:"link_ttl"`        // an act-from-chat link is valid this long
	ProtectMetrics bool          `koanf:"protect_metrics"` // /metrics wants a token too (any role)
}

// UserConfig is one user: a role and a token, given as its SHA-256 or
// read from the environment or a file, never written here in the clear.
type UserConfig struct {
	Role        string `koanf:"role"`         // viewer, analyst, admin or service
	TokenSHA256 string `koanf:"token_sha256"` // hex SHA-256 of the token: printf %s "$TOKEN" | sha256sum
	TokenEnv    string `koanf:"token_env"`    // or: an environment variable holding the token
	TokenFile   string `koanf:"token_file"`   // or: a file holding it
}

// MinTokenChars is the shortest token read from the environment or a file;
// a hash cannot be checked, so say it in the docs.
const MinTokenChars = 16

var (
	userName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)
	hexHash  = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
)

// validateAuth checks server.auth; errors name the key.
func (c *Config) validateAuth() error {
	a := c.Server.Auth
	for _, name := range slices.Sorted(maps.Keys(a.Users)) {
		u := a.Users[name]
		key := "server.auth.users." + name
		if !userName.MatchString(name) {
			return fmt.Errorf("config: %s: a user name is 1-64 letters, digits or . _ @ -, starting with a letter or digit", key)
		}
		if !slices.Contains(Roles(), u.Role) {
			return fmt.Errorf("config: %s.role: %q: want %s", key, u.Role, strings.Join(Roles(), ", "))
		}
		set := 0
		for _, v := range []string{u.TokenSHA256, u.TokenEnv, u.TokenFile} {
			if v != "" {
				set++
			}
		}
		if set != 1 {
			return fmt.Errorf("config: %s: want exactly one of token_sha256, token_env or token_file", key)
		}
		if u.TokenSHA256 != "" && !hexHash.MatchString(u.TokenSHA256) {
			return fmt.Errorf("config: %s.token_sha256: want 64 hex digits (printf %%s \"$TOKEN\" | sha256sum)", key)
		}
	}
	if a.KeyEnv != "" && a.KeyFile != "" {
		return fmt.Errorf("config: server.auth.key_env: set key_env or key_file, not both")
	}
	if a.SessionTTL < time.Minute {
		return fmt.Errorf("config: server.auth.session_ttl: %s is too short (at least 1m)", a.SessionTTL)
	}
	if a.LinkTTL < time.Minute {
		return fmt.Errorf("config: server.auth.link_ttl: %s is too short (at least 1m)", a.LinkTTL)
	}
	return nil
}

// TokenHash resolves the user's token to its SHA-256, hex-encoded: the
// configured hash, or the hash of the token in token_env or token_file.
// Errors name the key; a token shorter than MinTokenChars is refused.
func (u UserConfig) TokenHash(name string, getenv func(string) string) (string, error) {
	key := "server.auth.users." + name
	if u.TokenSHA256 != "" {
		return strings.ToLower(u.TokenSHA256), nil
	}
	var token string
	switch {
	case u.TokenEnv != "":
		if getenv == nil {
			getenv = os.Getenv
		}
		token = strings.TrimSpace(getenv(u.TokenEnv))
		if token == "" {
			return "", fmt.Errorf("config: %s.token_env: environment variable %s is empty or unset", key, u.TokenEnv)
		}
	case u.TokenFile != "":
		b, err := os.ReadFile(u.TokenFile)
		if err != nil {
			return "", fmt.Errorf("config: %s.token_file: %w", key, err)
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return "", fmt.Errorf("config: %s.token_file: %s is empty", key, u.TokenFile)
		}
	default:
		return "", fmt.Errorf("config: %s: no token (token_sha256, token_env or token_file)", key)
	}
	if len(token) < MinTokenChars {
		return "", fmt.Errorf("config: %s: the token is %d characters, want at least %d (e.g. openssl rand -hex 24)", key, len(token), MinTokenChars)
	}
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:]), nil
}

// Key resolves key_env or key_file: the server key, or "" when neither is
// set (the server then keeps its own beside the store).
func (a AuthConfig) Key(getenv func(string) string) (string, error) {
	var v, from string
	switch {
	case a.KeyEnv != "":
		if getenv == nil {
			getenv = os.Getenv
		}
		v, from = strings.TrimSpace(getenv(a.KeyEnv)), "server.auth.key_env: environment variable "+a.KeyEnv
		if v == "" {
			return "", fmt.Errorf("config: %s is empty or unset", from)
		}
	case a.KeyFile != "":
		b, err := os.ReadFile(a.KeyFile)
		if err != nil {
			if os.IsNotExist(err) {
				return "", nil // made at start
			}
			return "", fmt.Errorf("config: server.auth.key_file: %w", err)
		}
		v, from = strings.TrimSpace(string(b)), "server.auth.key_file "+a.KeyFile
	default:
		return "", nil
	}
	if len(v) < 32 {
		return "", fmt.Errorf("config: %s: the key is %d characters, want at least 32 (e.g. openssl rand -hex 32)", from, len(v))
	}
	return v, nil
}
