package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	shippedPolicies = "../../../policies"
	shippedFixtures = "../../../fixtures"
)

// syncBuffer is a bytes.Buffer safe to read while the runner writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cliResult is what one CLI invocation printed and returned.
type cliResult struct {
	stdout, stderr string
	code           int
}

// vigil runs the CLI in-process with an empty environment.
func vigil(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(context.Background(), args, []string{}, strings.NewReader(stdin), &out, &errb)
	return cliResult{out.String(), errb.String(), code}
}

// writeConfig writes a runner config into dir that keeps every file there.
func writeConfig(t *testing.T, dir, policies, extra string) string {
	t.Helper()
	cfg := fmt.Sprintf(`
policies:
  path: %s
  watch: false
store:
  path: %s
dead_letter:
  path: %s
features:
  snapshot_path: %s
notify:
  poll_interval: 50ms
  backoff_base: 20ms
  backoff_max: 200ms
%s`, policies, filepath.Join(dir, "vigil.db"), filepath.Join(dir, "dead-letter.jsonl"), filepath.Join(dir, "features.snapshot"), extra)
	p := filepath.Join(dir, "vigil.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runner is `vigil run` started in-process.
type runner struct {
	url    string
	stderr *syncBuffer
	stop   context.CancelFunc
	done   chan int
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startRunner starts `vigil run` with args and waits until it is ready.
func startRunner(t *testing.T, environ []string, args ...string) *runner {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{url: "http://" + addr, stderr: &syncBuffer{}, stop: cancel, done: make(chan int, 1)}
	// The API wants a token: the runner gets an admin whose token the
	// helpers below send.
	environ = append(slices.Clip(environ), "VIGIL_SERVER__AUTH__USERS__TESTER__ROLE=admin",
		"VIGIL_SERVER__AUTH__USERS__TESTER__TOKEN_ENV=TESTER_TOKEN", "TESTER_TOKEN="+testToken)
	go func() {
		r.done <- execute(ctx, append([]string{"run", "--addr", addr}, args...), environ, strings.NewReader(""), io.Discard, r.stderr)
	}()
	t.Cleanup(func() { r.shutdown(t) })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case code := <-r.done:
			r.done <- code
			t.Fatalf("vigil run exited with %d before it was ready:\n%s", code, r.stderr.String())
		default:
		}
		if resp, err := http.Get(r.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("vigil run was not ready within 30s:\n%s", r.stderr.String())
	return nil
}

// shutdown stops the runner (as SIGTERM does) and returns its exit code.
func (r *runner) shutdown(t *testing.T) int {
	t.Helper()
	r.stop()
	select {
	case code := <-r.done:
		r.done <- code
		return code
	case <-time.After(30 * time.Second):
		t.Fatalf("vigil run did not stop within 30s:\n%s", r.stderr.String())
		return -1
	}
}

// testToken is the token of the admin startRunner configures.
const testToken = "tester-token-0123456789abcdef"

// authed sends req with the test admin's token.
func authed(req *http.Request) (*http.Response, error) {
	req.Header.Set("Authorization", "Bearer "+testToken)
	return http.DefaultClient.Do(req)
}

// post sends a JSON body and decodes the JSON reply into out (if non-nil).
func post(t *testing.T, url, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := authed(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("POST %s: %d %s: %v", url, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

func get(t *testing.T, url string, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := authed(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("GET %s: %d %s: %v", url, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", d, what)
}

// copyPolicies copies the shipped bundle so that a test can change it.
func copyPolicies(t *testing.T) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "policies")
	err := filepath.WalkDir(shippedPolicies, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(shippedPolicies, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return to
}

func replaceInFile(t *testing.T, file, old, new string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	// write to a temp file and rename, as editors do, so watchers see one change
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
}
