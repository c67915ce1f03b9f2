package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkDecide measures POST /v1/decide through the handler, without a
// network: the API's own cost on top of the policy's, per record.
func BenchmarkDecide(b *testing.B) {
	for _, bc := range []struct{ name, body string }{
		{"clean", clean},          // no alert: the common case
		{"alerting", blockedCard}, // one alert repeat in SQLite per record
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := newStack(b, stackConfig{})
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/v1/decide", strings.NewReader(bc.body))
				req.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				s.handler.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
