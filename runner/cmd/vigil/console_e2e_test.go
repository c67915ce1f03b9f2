package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// request sends a request with an optional bearer token and returns the
// status and body.
func request(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// `vigil run` authenticates the API by role and serves the console.
func TestRunAuthenticatesAndServesTheConsole(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, shippedPolicies, `
server:
  auth:
    users:
      vic: {role: viewer, token_env: VIC_TOKEN}
`)
	const vic = "vic-token-0123456789abcdef"
	r := startRunner(t, []string{"VIC_TOKEN=" + vic}, "--config", cfg)
	if code := post(t, r.url+"/v1/decide", blockedCardPayment, nil); code != http.StatusOK {
		t.Fatalf("decide as admin: %d", code)
	}
	tests := []struct {
		method, path, token, body string
		status                    int
		contains                  string
	}{
		{http.MethodGet, "/healthz", "", "", http.StatusOK, "ok"},
		{http.MethodGet, "/v1/alerts", "", "", http.StatusUnauthorized, "authentication required"},
		{http.MethodGet, "/v1/alerts", "wrong-token-0123456789", "", http.StatusUnauthorized, "unknown token"},
		{http.MethodGet, "/v1/alerts", vic, "", http.StatusOK, "blocked_card"},
		{http.MethodPost, "/v1/decide", vic, blockedCardPayment, http.StatusForbidden, "user vic (viewer) may not"},
		{http.MethodPost, "/v1/alerts/1/ack", vic, `{}`, http.StatusForbidden, "act on alerts"},
		{http.MethodGet, "/console/login", "", "", http.StatusOK, "Log in to Vigil"},
		{http.MethodGet, "/console/alerts", "", "", http.StatusSeeOther, ""},
		{http.MethodGet, "/", "", "", http.StatusFound, ""},
		{http.MethodGet, "/alerts/1", "", "", http.StatusFound, ""},
		{http.MethodGet, "/console/act?t=forged", "", "", http.StatusBadRequest, "not valid"},
	}
	for _, tt := range tests {
		status, body := request(t, tt.method, r.url+tt.path, tt.token, tt.body)
		if status != tt.status || !strings.Contains(body, tt.contains) {
			t.Errorf("%s %s (token %q): %d %s, want %d with %q", tt.method, tt.path, tt.token, status, body, tt.status, tt.contains)
		}
	}
}

// startBare starts `vigil run` with exactly environ (no test user) and
// waits until it is ready, or returns its exit code and output.
func startBare(t *testing.T, environ []string, args ...string) (url string, code int, out string) {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- execute(ctx, append([]string{"run", "--addr", addr}, args...), environ, strings.NewReader(""), io.Discard, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("vigil run did not stop")
		}
	})
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case code := <-done:
			done <- code
			return "", code, stderr.String()
		default:
		}
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return "http://" + addr, 0, stderr.String()
			}
		}
	}
	t.Fatalf("vigil run was not ready within 30s:\n%s", stderr.String())
	return "", -1, ""
}

// With no users, env dev makes an admin and keeps its token beside the
// store; any other env refuses to start.
func TestRunDevAdminToken(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, shippedPolicies, "")
	url, code, out := startBare(t, []string{}, "--config", cfg)
	if code != 0 {
		t.Fatalf("vigil run exited %d:\n%s", code, out)
	}
	path := filepath.Join(dir, "admin.token")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the admin token: %v", err)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, info.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(dir, "server.key")); err != nil {
		t.Errorf("the server key: %v", err)
	}
	token := string(bytes.TrimSpace(b))
	if status, body := request(t, http.MethodGet, url+"/v1/alerts", token, ""); status != http.StatusOK {
		t.Errorf("with the admin token: %d %s", status, body)
	}
	if status, _ := request(t, http.MethodGet, url+"/v1/alerts", "", ""); status != http.StatusUnauthorized {
		t.Errorf("without a token: %d", status)
	}

	dir2 := t.TempDir()
	cfg2 := writeConfig(t, dir2, shippedPolicies, "env: staging\n")
	_, code, out = startBare(t, []string{}, "--config", cfg2)
	if code == 0 || !strings.Contains(out, "server.auth.users: env staging has no users") {
		t.Errorf("staging without users: exit %d:\n%s", code, out)
	}
}
