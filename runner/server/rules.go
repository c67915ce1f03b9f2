package server

import "net/http"

// rules answers GET /v1/rules: the loaded bundle's revision and rule metadata.
func (s *Server) rules(w http.ResponseWriter, _ *http.Request) {
	p := s.pipe.Policy()
	writeJSON(w, http.StatusOK, map[string]any{"policy_revision": p.Revision, "loaded_at": p.LoadedAt, "rules": p.Rules})
}
