package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/vigil-risk/vigil/runner/server/auth"
)

// authenticate guards every route but health, readiness, metrics (unless
// protected) and the console, which checks its own sessions. It denies by
// default: a route added later needs a token too, and a write it does not
// know needs admin.
func (s *Server) authenticate(next http.Handler) http.Handler {
	if s.opts.Auth == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		perm, open := s.permission(r)
		if open {
			next.ServeHTTP(w, r)
			return
		}
		p, err := s.opts.Auth.Bearer(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
			msg := "authentication required: send Authorization: Bearer <token>"
			if errors.Is(err, auth.ErrBadToken) {
				msg = "unknown token: send Authorization: Bearer <token> with a token from server.auth.users"
			}
			writeError(w, http.StatusUnauthorized, msg, nil)
			return
		}
		if !p.Role.Can(perm) {
			writeError(w, http.StatusForbidden, forbidden(p, perm, r), nil)
			return
		}
		// Whoever changes something is the authenticated user, whatever
		// the request claims.
		r.Header.Set("X-Vigil-Actor", p.Name)
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// permission is what a request needs; open requests need nothing.
func (s *Server) permission(r *http.Request) (perm auth.Permission, open bool) {
	path := r.URL.Path
	switch {
	case path == "/healthz" || path == "/readyz":
		return 0, true
	case path == "/metrics":
		return auth.Scrape, !s.opts.ProtectMetrics
	case path == "/" || path == auth.ConsolePath || strings.HasPrefix(path, auth.ConsolePath+"/"):
		return 0, true // the console's own sessions, login and links
	case s.opts.Console != nil && r.Method == http.MethodGet && (path == "/act" || strings.HasPrefix(path, "/alerts/")):
		return 0, true // redirects to the console, from links in messages
	}
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case under(path, "/v1/config") || under(path, "/v1/users") || under(path, "/v1/admin"):
		return auth.Administer, false
	case r.Method == http.MethodPost && (path == "/v1/decide" || path == "/v1/records"):
		return auth.Decide, false
	case read && strings.HasPrefix(path, "/v1/"):
		return auth.Read, false
	case under(path, "/v1/alerts") || under(path, "/v1/silences"):
		return auth.Act, false
	}
	return auth.Administer, false
}

// under reports whether path is prefix or below it.
func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

func forbidden(p auth.Principal, perm auth.Permission, r *http.Request) string {
	roles := auth.RolesFor(perm)
	names := make([]string, 0, len(roles))
	for _, role := range roles {
		if role != auth.Admin {
			names = append(names, string(role))
		}
	}
	names = append(names, string(auth.Admin))
	return "user " + p.Name + " (" + string(p.Role) + ") may not " + r.Method + " " + r.URL.Path +
		": it needs a role that may " + perm.String() + " (" + strings.Join(names, " or ") + ")"
}
