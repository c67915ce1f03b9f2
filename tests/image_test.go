// Package tests runs the runner image as it is built — the Dockerfile, FROM
// scratch, the binary from `make build`, the bundle baked in by
// `vigil bundle build` — under testcontainers-go: records in, decisions out
// stamped with the baked revision, alerts to a webhook receiver in the test,
// metrics, a non-root user, a bad config, and a drain on SIGTERM.
//
// The image is built once per run. The tests skip, saying so, only when no
// Docker engine answers. Ryuk, testcontainers' reaper, is never started (its
// image would have to be pulled): containers are removed by the tests.
package tests

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/vigil-risk/vigil/runner/policy"
)

// repoRoot is the build context: the Dockerfile and what it copies.
const repoRoot = ".."

// nonRoot is the user the image runs as.
const nonRoot = "65532:65532"

func TestMain(m *testing.M) {
	// testcontainers reads this once, at first use: set it before anything
	// touches it, so that `go test ./tests` works without the Makefile too.
	// It must be exactly "true".
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	// A local engine publishes ports on this machine's loopback. Inside a
	// container (a CI sandbox) testcontainers would otherwise guess the
	// default route's gateway, an address that is not this machine.
	if h := os.Getenv("DOCKER_HOST"); os.Getenv("TESTCONTAINERS_HOST_OVERRIDE") == "" && (h == "" || strings.HasPrefix(h, "unix://")) {
		os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	}
	code := m.Run()
	built.remove()
	os.Exit(code)
}

// builtImage is the image under test and what was baked into it.
type builtImage struct {
	once           sync.Once
	err            error
	tag            string
	policyRevision string // the bundle's manifest revision
	buildArgs      map[string]string
}

var built builtImage

// image builds the runner image once per run, the way `make image` does:
// `make image-context` stages the binary, bundle and directories, and the
// Dockerfile is built with the same build arguments.
func image(t *testing.T) *builtImage {
	t.Helper()
	testcontainers.SkipIfProviderIsNotHealthy(t)
	built.once.Do(func() { built.err = built.build(context.Background()) })
	if built.err != nil {
		t.Fatalf("building the image: %v", built.err)
	}
	return &built
}

func (b *builtImage) build(ctx context.Context) error {
	stage := exec.CommandContext(ctx, "make", "-C", repoRoot, "image-context")
	if out, err := stage.CombinedOutput(); err != nil {
		return fmt.Errorf("make image-context: %v\n%s", err, out)
	}
	p, err := policy.Load(ctx, filepath.Join(repoRoot, "dist/image/bundle.tar.gz"))
	if err != nil {
		return fmt.Errorf("the staged bundle: %w", err)
	}
	b.policyRevision = p.Revision
	b.buildArgs = map[string]string{
		"VERSION":         "v0.0.0-imagetest",
		"REVISION":        "0123456789abcdef0123456789abcdef01234567",
		"SOURCE":          "https://github.com/vigil-risk/vigil",
		"CREATED":         time.Now().UTC().Format(time.RFC3339),
		"POLICY_REVISION": p.Revision,
	}
	args := map[string]*string{}
	for k, v := range b.buildArgs {
		args[k] = &v
	}
	provider, err := testcontainers.NewDockerProvider()
	if err != nil {
		return err
	}
	defer provider.Close()
	var log bytes.Buffer
	tag, err := provider.BuildImage(ctx, &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		Context: repoRoot, Dockerfile: "Dockerfile", Repo: "vigil-imagetest", Tag: strconv.FormatInt(time.Now().UnixNano(), 36),
		BuildArgs: args, BuildLogWriter: &log, KeepImage: true,
	}})
	if err != nil {
		return fmt.Errorf("%w\n%s", err, log.String())
	}
	b.tag = tag
	return nil
}

func (b *builtImage) remove() {
	if b.tag == "" {
		return
	}
	ctx := context.Background()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return
	}
	defer cli.Close()
	_, _ = cli.ImageRemove(ctx, b.tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
}

// runner is a started runner container.
type runner struct {
	c   *testcontainers.DockerContainer
	url string // http://host:port of the API
}

// start runs the image with cmd (the image's CMD when nil), extra files and
// environment, and waits for /healthz.
func start(t *testing.T, img *builtImage, cmd []string, env map[string]string, files ...testcontainers.ContainerFile) *runner {
	t.Helper()
	ctx := context.Background()
	// The API wants a token: an admin whose token the helpers send.
	withUser := map[string]string{"VIGIL_SERVER__AUTH__USERS__TESTER__ROLE": "admin",
		"VIGIL_SERVER__AUTH__USERS__TESTER__TOKEN_ENV": "TESTER_TOKEN", "TESTER_TOKEN": testToken}
	maps.Copy(withUser, env)
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        img.tag,
			Cmd:          cmd,
			Env:          withUser,
			Files:        files,
			ExposedPorts: []string{"8080/tcp"},
			WaitingFor: wait.ForHTTP("/healthz").WithPort("8080/tcp").
				WithStartupTimeout(60 * time.Second).WithPollInterval(100 * time.Millisecond),
		},
		Started: true,
	})
	testcontainers.CleanupContainer(t, c)
	if err != nil {
		if c != nil {
			t.Logf("container log:\n%s", logs(t, c))
		}
		t.Fatalf("starting the runner: %v", err)
	}
	dc := c.(*testcontainers.DockerContainer)
	port, err := dc.MappedPort(ctx, "8080/tcp")
	if err != nil {
		t.Fatal(err)
	}
	return &runner{c: dc, url: "http://127.0.0.1:" + port.Port()}
}

func logs(t *testing.T, c testcontainers.Container) string {
	t.Helper()
	rc, err := c.Logs(context.Background())
	if err != nil {
		return fmt.Sprintf("(no logs: %v)", err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}

// overlay is a config file layered over the image's dev.yaml.
func overlay(path, yaml string) testcontainers.ContainerFile {
	return testcontainers.ContainerFile{Reader: strings.NewReader(yaml), ContainerFilePath: path, FileMode: 0o644}
}

// bridgeGateway is the host's address on Docker's default bridge: what a
// container reaches the host (and a receiver running in this test) at.
func bridgeGateway(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	res, err := cli.NetworkInspect(ctx, "bridge", client.NetworkInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range res.Network.IPAM.Config {
		if cfg.Gateway.IsValid() {
			return cfg.Gateway.String()
		}
	}
	// Some engines leave the gateway out of IPAM: it is the host interface
	// address inside the bridge's subnet.
	ifaces, _ := net.Interfaces()
	for _, iface := range ifaces {
		addrs, _ := iface.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			for _, cfg := range res.Network.IPAM.Config {
				if cfg.Subnet.IsValid() && cfg.Subnet.Contains(netipOf(ipn.IP)) {
					return ipn.IP.String()
				}
			}
		}
	}
	t.Fatalf("no gateway found for the bridge network: %+v", res.Network.IPAM)
	return ""
}

// webhookReceiver is an alert receiver listening where the container can
// reach it, checking each delivery's signature as the README tells
// receivers to.
type webhookReceiver struct {
	url      string
	secret   string
	received chan map[string]any
	bad      chan string
}

func newWebhookReceiver(t *testing.T, host, secret string) *webhookReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	w := &webhookReceiver{url: "http://" + ln.Addr().String() + "/vigil", secret: secret,
		received: make(chan map[string]any, 16), bad: make(chan string, 16)}
	srv := &http.Server{Handler: http.HandlerFunc(w.serve), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return w
}

func (w *webhookReceiver) serve(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts := r.Header.Get("X-Vigil-Timestamp")
	m := hmac.New(sha256.New, []byte(w.secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	want := "v1=" + hex.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(r.Header.Get("X-Vigil-Signature")), []byte(want)) {
		w.bad <- fmt.Sprintf("bad signature %q on %s", r.Header.Get("X-Vigil-Signature"), body)
		http.Error(rw, "bad signature", http.StatusUnauthorized)
		return
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		w.bad <- fmt.Sprintf("not JSON: %s", body)
		http.Error(rw, "not JSON", http.StatusBadRequest)
		return
	}
	w.received <- v
	rw.WriteHeader(http.StatusNoContent)
}

func TestImageMetadata(t *testing.T) {
	img := image(t)
	ctx := context.Background()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	res, err := cli.ImageInspect(ctx, img.tag)
	if err != nil {
		t.Fatal(err)
	}
	cfg := res.Config
	if cfg.User != nonRoot {
		t.Errorf("user = %q, want %s", cfg.User, nonRoot)
	}
	for label, arg := range map[string]string{
		"org.opencontainers.image.version":  "VERSION",
		"org.opencontainers.image.revision": "REVISION",
		"org.opencontainers.image.source":   "SOURCE",
		"org.opencontainers.image.created":  "CREATED",
		"io.vigil.policy.revision":          "POLICY_REVISION",
	} {
		if got := cfg.Labels[label]; got == "" || got != img.buildArgs[arg] {
			t.Errorf("label %s = %q, want %q", label, got, img.buildArgs[arg])
		}
	}
	if hc := cfg.Healthcheck; hc == nil || strings.Join(hc.Test, " ") != "CMD /usr/local/bin/vigil health --url http://127.0.0.1:8080/healthz" {
		t.Errorf("health check = %+v", hc)
	}
	if strings.Join(cfg.Entrypoint, " ") != "/usr/local/bin/vigil" || strings.Join(cfg.Cmd, " ") != "run --config /etc/vigil/dev.yaml" {
		t.Errorf("entrypoint %v, cmd %v", cfg.Entrypoint, cfg.Cmd)
	}
}

func TestImageDecidesAlertsAndExportsMetrics(t *testing.T) {
	img := image(t)
	hook := newWebhookReceiver(t, bridgeGateway(t), "imagetest-secret")
	r := start(t, img, []string{"run", "--config", "/etc/vigil/dev.yaml", "--config", "/etc/vigil/test.yaml"},
		map[string]string{"TEST_HOOK_SECRET": hook.secret}, // not VIGIL_*: those are config keys
		overlay("/etc/vigil/test.yaml", fmt.Sprintf(`
notify:
  poll_interval: 100ms
  receivers:
    - {name: console, type: log}
    - {name: test-hook, type: webhook, url: %q, secret_env: TEST_HOOK_SECRET, timeout: 5s}
  group_wait: 0s
  route:
    receiver: console
    routes:
      - {receiver: console, continue: true}
      - {receiver: test-hook}
`, hook.url)))
	ctx := context.Background()

	// runs as the non-root user: the container, and the files it wrote
	info, err := r.c.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.User != nonRoot {
		t.Errorf("container user = %q, want %s", info.Config.User, nonRoot)
	}

	// a blocked card: decided, stamped with the baked revision
	var d struct {
		Action         string `json:"action"`
		PolicyRevision string `json:"policy_revision"`
		RunnerVersion  string `json:"runner_version"`
		Hits           []struct{ Rule string }
	}
	status := postJSON(t, r.url+"/v1/decide", `{"id":"img-1","ts":"2026-03-01T10:00:00Z","type":"payment","card_id":"ctok_7Hq2Lm9Xb4","customer_id":"cus-1","amount":19.99,"currency":"EUR"}`, &d)
	if status != http.StatusOK || d.Action != "block" || len(d.Hits) != 1 || d.Hits[0].Rule != "blocked_card" {
		t.Fatalf("decide: %d %+v", status, d)
	}
	if d.PolicyRevision != img.policyRevision || d.PolicyRevision == "" {
		t.Errorf("policy_revision = %q, want the baked %q", d.PolicyRevision, img.policyRevision)
	}
	if d.RunnerVersion == "" {
		t.Error("no runner_version")
	}
	var version struct {
		PolicyRevision string `json:"policy_revision"`
	}
	if getJSON(t, r.url+"/v1/version", &version); version.PolicyRevision != img.policyRevision {
		t.Errorf("/v1/version policy revision = %q", version.PolicyRevision)
	}

	// the alert reaches the webhook receiver in this test, signed
	select {
	case msg := <-hook.received:
		// one message per group, its alerts inside (webhook payload version 2)
		alerts, _ := msg["alerts"].([]any)
		if msg["status"] != "firing" || len(alerts) != 1 {
			t.Fatalf("webhook delivery = %v", msg)
		}
		a, _ := alerts[0].(map[string]any)
		if a["rule"] != "blocked_card" || a["severity"] != "critical" {
			t.Errorf("webhook alert = %v", a)
		}
		if e, _ := a["entity"].(map[string]any); e["value"] != "ctok_7Hq2Lm9Xb4" {
			t.Errorf("webhook entity = %v", a["entity"])
		}
	case bad := <-hook.bad:
		t.Fatal(bad)
	case <-time.After(30 * time.Second):
		t.Fatalf("no alert reached the webhook receiver\n%s", logs(t, r.c))
	}

	// metrics
	fams := scrape(t, r.url+"/metrics")
	if v := counter(fams, "vigil_records_total", map[string]string{"source": "http", "action": "block"}); v != 1 {
		t.Errorf("vigil_records_total{source=http,action=block} = %v, want 1", v)
	}
	if v := counter(fams, "vigil_rule_hits_total", map[string]string{"rule": "blocked_card", "mode": "enforce"}); v != 1 {
		t.Errorf("vigil_rule_hits_total{rule=blocked_card} = %v, want 1", v)
	}
	if _, ok := fams["process_resident_memory_bytes"]; !ok {
		t.Error("no process metrics")
	}

	// the store was written by the non-root user in the state directory
	if uid := fileOwner(t, r.c, "/var/lib/vigil/vigil.db"); uid != 65532 {
		t.Errorf("/var/lib/vigil/vigil.db is owned by uid %d, want 65532", uid)
	}
}

func TestImageRefusesABadConfig(t *testing.T) {
	img := image(t)
	pub := strings.TrimSpace(testPublicKey)
	tests := []struct {
		name  string
		cmd   []string
		env   map[string]string
		files []testcontainers.ContainerFile
		want  string
	}{
		{
			name: "misspelt key",
			cmd:  []string{"run", "--config", "/etc/vigil/dev.yaml", "--set", "server.adress=0.0.0.0:9090"},
			want: `vigil: config: unknown key "server.adress" in the command line`,
		},
		{
			name: "bad value from the environment",
			env:  map[string]string{"VIGIL_ALERTS__MIN_SEVERITY": "urgent"},
			want: `vigil: config: alerts.min_severity: severity "urgent": want low, medium, high or critical`,
		},
		{
			name: "prod without its verification key",
			cmd:  []string{"run", "--config", "/etc/vigil/prod.yaml"},
			want: "vigil: policies.verification_key: open /etc/vigil/keys/bundle.pub: no such file or directory",
		},
		{
			name:  "prod refuses the unsigned dev bundle",
			cmd:   []string{"run", "--config", "/etc/vigil/prod.yaml", "--set", "policies.verification_key=/etc/vigil/bundle.pub"},
			env:   map[string]string{"RISK_OPS_WEBHOOK_SECRET": "x"},
			files: []testcontainers.ContainerFile{overlay("/etc/vigil/bundle.pub", pub)},
			want:  "vigil: policies /etc/vigil/bundle.tar.gz: /etc/vigil/bundle.tar.gz: unsigned bundle refused: signatures are required (policies.require_signature) and the bundle has no .signatures.json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
				ContainerRequest: testcontainers.ContainerRequest{Image: img.tag, Cmd: tt.cmd, Env: tt.env, Files: tt.files},
				Started:          true,
			})
			testcontainers.CleanupContainer(t, c)
			if err != nil {
				t.Fatal(err)
			}
			state := waitExit(t, c)
			if state.ExitCode == 0 {
				t.Fatalf("exit code 0, want non-zero; log:\n%s", logs(t, c))
			}
			out := strings.TrimRight(logs(t, c), "\n")
			if out != tt.want {
				t.Errorf("log:\n%s\nwant exactly one line:\n%s", out, tt.want)
			}
		})
	}
}

func TestImageDrainsInFlightRecordsOnSIGTERM(t *testing.T) {
	img := image(t)
	r := start(t, img, nil, nil)
	ctx := context.Background()

	const senders, batches, perBatch = 4, 40, 400
	type result struct {
		ids               []string
		status            int
		accepted          int
		started, finished time.Time
		err               error
	}
	results := make(chan result, senders*batches)
	stopping := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 60 * time.Second}
	for s := range senders {
		wg.Go(func() {
			for b := range batches {
				var body bytes.Buffer
				res := result{started: time.Now()}
				for i := range perBatch {
					id := fmt.Sprintf("drain-%d-%d-%d", s, b, i)
					res.ids = append(res.ids, id)
					fmt.Fprintf(&body, `{"id":%q,"ts":"2026-03-01T10:%02d:%02dZ","type":"payment","card_id":"ctok_%06d","customer_id":"cus-%d","amount":%d.5,"currency":"EUR"}`+"\n",
						id, b%60, i%60, i, s, 10+i)
				}
				req, _ := http.NewRequest(http.MethodPost, r.url+"/v1/records", &body)
				req.Header.Set("Content-Type", "application/x-ndjson")
				req.Header.Set("Authorization", "Bearer "+testToken)
				resp, err := client.Do(req)
				res.finished = time.Now()
				if err != nil {
					res.err = err
					results <- res
					return // the runner is gone
				}
				var out struct{ Accepted int }
				err = json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				res.status, res.accepted, res.err = resp.StatusCode, out.Accepted, err
				results <- res
				select {
				case <-stopping:
					return
				default:
				}
			}
		})
	}
	// SIGTERM once the runner is busy
	for seen := 0; seen < senders; seen++ {
		res := <-results
		results <- res // keep it for the tally
		time.Sleep(time.Millisecond)
	}
	stopAt := time.Now()
	timeout := 30 * time.Second
	if err := r.c.Stop(ctx, &timeout); err != nil { // SIGTERM, then SIGKILL after the timeout
		t.Fatal(err)
	}
	close(stopping)
	wg.Wait()
	close(results)

	acked := map[string]bool{}
	sent := map[string]bool{}
	drained := 0
	for res := range results {
		for _, id := range res.ids {
			sent[id] = true
		}
		if res.err != nil || res.status != http.StatusOK {
			continue // refused at the door: the client knows it was not taken
		}
		if res.accepted != perBatch {
			t.Errorf("a batch answered 200 with %d of %d accepted", res.accepted, perBatch)
		}
		for _, id := range res.ids {
			acked[id] = true
		}
		if res.started.Before(stopAt) && res.finished.After(stopAt) {
			drained++
		}
	}
	state, err := r.c.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	log := logs(t, r.c)
	if state.Running || state.ExitCode != 0 {
		t.Fatalf("after SIGTERM: running %v, exit %d\n%s", state.Running, state.ExitCode, log)
	}
	if !strings.Contains(log, "stopping: draining in-flight records") || !strings.Contains(log, "msg=stopped") {
		t.Errorf("the log does not show a drain:\n%s", lastLines(log, 10))
	}
	if drained == 0 {
		t.Errorf("no request was in flight at SIGTERM (%d acknowledged): the test proved nothing", len(acked))
	}

	// every acknowledged record is in the decision log, and nothing else
	logged := map[string]bool{}
	sc := bufio.NewScanner(copyFrom(t, r.c, "/var/lib/vigil/decisions.jsonl"))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var d struct {
			RecordID string `json:"record_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("decision log: %v: %s", err, sc.Text())
		}
		logged[d.RecordID] = true
	}
	lost := 0
	for id := range acked {
		if !logged[id] {
			lost++
		}
	}
	phantom := 0
	for id := range logged {
		if !sent[id] {
			phantom++
		}
	}
	if lost > 0 || phantom > 0 {
		t.Errorf("%d acknowledged records missing from the decision log, %d logged that were never sent", lost, phantom)
	}
	// the feature snapshot is written on the way out
	if b, _ := io.ReadAll(copyFrom(t, r.c, "/var/lib/vigil/features.snapshot")); len(b) == 0 {
		t.Error("no feature snapshot after SIGTERM")
	}
	t.Logf("%d records acknowledged (%d batches in flight at SIGTERM drained), all in the decision log", len(acked), drained)
}

// waitExit waits for a container to stop by itself.
func waitExit(t *testing.T, c testcontainers.Container) *containerState {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st, err := c.State(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !st.Running && st.Status != "created" {
			return &containerState{ExitCode: st.ExitCode}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the container did not exit; log:\n%s", logs(t, c))
	return nil
}

type containerState struct{ ExitCode int }

// copyFrom reads a file out of a (possibly stopped) container.
func copyFrom(t *testing.T, c *testcontainers.DockerContainer, path string) io.Reader {
	t.Helper()
	rc, err := c.CopyFileFromContainer(context.Background(), path)
	if err != nil {
		t.Fatalf("copy %s out of the container: %v", path, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b)
}

// fileOwner is the uid owning a file in the container.
func fileOwner(t *testing.T, c *testcontainers.DockerContainer, path string) int {
	t.Helper()
	ctx := context.Background()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	res, err := cli.CopyFromContainer(ctx, c.GetContainerID(), client.CopyFromContainerOptions{SourcePath: path})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Content.Close()
	h, err := tar.NewReader(res.Content).Next()
	if err != nil {
		t.Fatal(err)
	}
	return h.Uid
}

// testToken is the token of the admin start configures.
const testToken = "tester-token-0123456789abcdef"

func postJSON(t *testing.T, url, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return resp.StatusCode
}

func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

func scrape(t *testing.T, url string) map[string]*dtoFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	return fams
}

// counter is the value of the counter with exactly these labels, -1 when absent.
func counter(fams map[string]*dtoFamily, name string, labels map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		return m.GetCounter().GetValue()
	}
	return -1
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
