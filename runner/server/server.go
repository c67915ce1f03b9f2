// Package server is Vigil's HTTP API: deciding records, ingesting batches,
// reading and handling alerts, health and metrics.
package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/notify/silence"
	"github.com/vigil-risk/vigil/runner/pipeline"
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
	if s.opts.Alerts != nil {
		mux.HandleFunc("GET /v1/alerts", s.listAlerts)
		mux.HandleFunc("GET /v1/alerts/{id}", s.getAlert)
		mux.HandleFunc("POST /v1/alerts/{id}/ack", s.ackAlert)
		mux.HandleFunc("POST /v1/alerts/{id}/resolve", s.resolveAlert)
	}
	s.notifyRoutes(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.ready)
	if s.opts.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{}))
	}
	return mux
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
