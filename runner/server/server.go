// Package server is Vigil's HTTP API: deciding records, ingesting batches,
// reading and handling alerts, health and metrics, and the web console
// (server/console) under /console/. Every API call needs a bearer token
// whose user's role allows it (auth.go).
package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/notify/silence"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/server/auth"
)

// Options configure the API.
type Options struct {
	MaxBodyBytes  int64                       // larger request bodies are a 413 (server.max_body_bytes)
	Alerts        *alert.Service              // nil: the alert endpoints answer 404
	Silences      *silence.Service            // nil: the silence endpoints answer 404
	Notifications Notifications               // the outbox; nil: the notification endpoints answer 404
	Gatherer      prometheus.Gatherer         // nil: no /metrics
	Ready         func(context.Context) error // extra readiness check (the store); nil: always ready once built
	Version       string
	Log           *slog.Logger

	// Auth authenticates every API call (a bearer token) and checks the
	// caller's role; nil serves without authentication, for embedding in a
	// process that owns the listener (benchmarks, tests) — `vigil run`
	// always sets it.
	Auth           *auth.Auth
	ProtectMetrics bool         // /metrics wants a token too (server.auth.protect_metrics)
	Console        http.Handler // the web console, served under /console/ (it checks its own sessions); nil: none
}

// Server holds the API's dependencies; Handler serves it.
type Server struct {
	pipe *pipeline.Pipeline
	opts Options
	log  *slog.Logger
}

// New serves pipeline p. A MaxBodyBytes of zero means 1 MiB.
func New(p *pipeline.Pipeline, opts Options) *Server {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{pipe: p, opts: opts, log: log}
}

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/decide", s.decide)
	mux.HandleFunc("POST /v1/records", s.records)
	mux.HandleFunc("GET /v1/rules", s.rules)
	mux.HandleFunc("GET /v1/version", s.version)
	s.alertRoutes(mux) // alerts_actions.go
	s.notifyRoutes(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.ready)
	if s.opts.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{}))
	}
	if s.opts.Console != nil {
		mux.Handle(auth.ConsolePath+"/", s.opts.Console)
		mux.Handle("GET "+auth.ConsolePath, http.RedirectHandler(auth.ConsolePath+"/", http.StatusMovedPermanently))
		mux.Handle("GET /{$}", http.RedirectHandler(auth.ConsolePath+"/", http.StatusFound))
		// Messages link to <notify.link_base>/alerts/<id> and /act?t=...;
		// with the server's root as link base those land here.
		mux.HandleFunc("GET /alerts/{id}", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, auth.ConsolePath+"/alerts/"+url.PathEscape(r.PathValue("id")), http.StatusFound)
		})
		mux.HandleFunc("GET /act", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, auth.ConsolePath+"/act?"+r.URL.RawQuery, http.StatusFound)
		})
	}
	return s.authenticate(mux)
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.opts.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.opts.Ready(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "policy_revision": s.pipe.Policy().Revision})
}

func (s *Server) version(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"runner_version": s.opts.Version, "policy_revision": s.pipe.Policy().Revision})
}

// apiError is every error body: a message, and for bad records the fields.
type apiError struct {
	Error  string `json:"error"`
	Errors any    `json:"errors,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string, details any) {
	writeJSON(w, status, apiError{Error: msg, Errors: details})
}
