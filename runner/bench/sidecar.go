package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// sidecar is OPA run as a server next to the application, as many teams
// deploy it: `opa run --server` with the bundle, over loopback HTTP with
// keep-alive connections. It is a process of its own, with its own
// runtime and garbage collector; only the CPU cores are shared.
type sidecar struct {
	cmd    *exec.Cmd
	exited chan error // the process's end
	url    string
	client *http.Client
	stderr *bytes.Buffer
}

// wrapperModule gives the server the query Vigil evaluates: every rule's
// hit at once, as one document.
const wrapperModule = `package vigil_bench

hits := {name: h | some name; h := data.risk.rules[name].hit}
`

// findOPA returns the opa binary to run, or why there is none.
func findOPA(opa string) (string, string) {
	switch opa {
	case "-":
		return "", "left out (no sidecar asked for)"
	case "":
		p, err := exec.LookPath("opa")
		if err != nil {
			return "", "left out: no opa binary on PATH (make bench-compare builds one from the OPA module in go.mod)"
		}
		return p, ""
	}
	if _, err := os.Stat(opa); err != nil {
		return "", fmt.Sprintf("left out: %v", err)
	}
	return opa, ""
}

// startSidecar copies the bundle's policies and data (not Vigil's own
// schema, feature and model files) with the wrapper into dir, starts the
// server on a free loopback port and waits until it answers.
func startSidecar(ctx context.Context, opa, policies, dir string, clients int) (*sidecar, error) {
	if err := copyBundle(policies, dir); err != nil {
		return nil, fmt.Errorf("sidecar bundle: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vigil_bench.rego"), []byte(wrapperModule), 0o644); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s := &sidecar{
		url:    "http://" + addr + "/v1/data/vigil_bench/hits",
		stderr: &bytes.Buffer{},
		client: &http.Client{Transport: &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients, DisableCompression: true}},
	}
	s.cmd = exec.Command(opa, "run", "--server", "--addr", addr, "--log-level", "error", "--skip-version-check", "--bundle", dir)
	s.cmd.Stdout, s.cmd.Stderr = io.Discard, s.stderr
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", opa, err)
	}
	s.exited = make(chan error, 1)
	go func() { s.exited <- s.cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-s.exited:
			return nil, fmt.Errorf("opa run exited before answering: %v: %s", err, strings.TrimSpace(s.stderr.String()))
		case <-ctx.Done():
			s.close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := s.client.Get("http://" + addr + "/health")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.close()
			return nil, errors.New("opa run did not answer /health within a minute")
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// copyBundle copies the .rego and data.json files of a bundle directory.
func copyBundle(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != src && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(d.Name(), ".rego") && d.Name() != "data.json" {
			return nil
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(out, data, 0o644)
	})
}

// decide posts one input document and returns the rules that fired.
func (s *sidecar) decide(ctx context.Context, doc []byte) ([]string, error) {
	body := make([]byte, 0, len(doc)+10)
	body = append(append(append(body, `{"input":`...), doc...), '}')
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("opa sidecar: %s: %s", resp.Status, b)
	}
	var out struct {
		Result map[string]json.RawMessage `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("opa sidecar: %w", err)
	}
	names := make([]string, 0, len(out.Result))
	for name := range out.Result {
		names = append(names, name)
	}
	return names, nil
}

// cpu is the server process's CPU time so far (Linux /proc; zero elsewhere).
func (s *sidecar) cpu() time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// clockTicks is USER_HZ, which Linux fixes at 100 for /proc.
const clockTicks = 100

// close stops the server (the process this package started) and waits for
// it to end.
func (s *sidecar) close() {
	s.client.CloseIdleConnections()
	if s.cmd.Process.Kill() == nil {
		<-s.exited
	}
}
