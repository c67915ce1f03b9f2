package policy

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/decision"
)

// syncBuffer is a log sink that goroutines may share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSpace(b.buf.String()), "\n")
}

func newEngine(t *testing.T, dir string, opts ...Option) (*Engine, *syncBuffer) {
	t.Helper()
	var logs syncBuffer
	e, err := NewEngine(context.Background(), dir, slog.New(slog.NewTextHandler(&logs, nil)), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return e, &logs
}

const cardTestingPath = "risk/rules/card_testing.rego"

// lowerThreshold makes card_testing fire from 2 authorisations instead of 5.
func lowerThreshold(t *testing.T, dir string) {
	t.Helper()
	path := filepath.Join(dir, cardTestingPath)
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, strings.Replace(string(src), "n >= 5", "n >= 2", 1))
}

func cardTestingInput() *Input {
	return &Input{Record: payment(nil), Features: map[string]any{"card_small_auth_count_1m": 3}}
}

func TestEngineReload(t *testing.T) {
	ctx := context.Background()
	dir := copyBundle(t, "testdata/basic")
	e, _ := newEngine(t, dir)
	old := e.Current()
	var swaps [][2]*Policy
	e.OnSwap(func(o, n *Policy) { swaps = append(swaps, [2]*Policy{o, n}) })

	if err := e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if e.Current() != old || len(swaps) != 0 {
		t.Fatal("an unchanged bundle was swapped")
	}

	lowerThreshold(t, dir)
	if err := e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	cur := e.Current()
	if cur == old || cur.Revision == old.Revision {
		t.Fatalf("not swapped: revision %q → %q", old.Revision, cur.Revision)
	}
	if len(swaps) != 1 || swaps[0][0] != old || swaps[0][1] != cur {
		t.Fatalf("OnSwap calls = %v, want one with (old, new)", swaps)
	}
	d, err := cur.Decide(ctx, cardTestingInput())
	if err != nil {
		t.Fatal(err)
	}
	if d.Action != decision.Block || d.PolicyRevision != cur.Revision {
		t.Errorf("new policy decided %s under %q", d.Action, d.PolicyRevision)
	}
	if d, _ := old.Decide(ctx, cardTestingInput()); d.Action != decision.Allow {
		t.Errorf("the old policy changed: %s", d.Action)
	}
}

func TestEngineReloadBroken(t *testing.T) {
	ctx := context.Background()
	dir := copyBundle(t, "testdata/basic")
	e, logs := newEngine(t, dir)
	old := e.Current()
	swapped := false
	e.OnSwap(func(_, _ *Policy) { swapped = true })

	path := filepath.Join(dir, cardTestingPath)
	src, _ := os.ReadFile(path)
	writeFile(t, path, strings.Replace(string(src), "n >= 5", "n >= ", 1))

	err := e.Reload(ctx)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Reload = %v, want Errors", err)
	}
	if e.Current() != old || swapped {
		t.Fatal("a broken bundle was swapped in")
	}
	if d, err := e.Current().Decide(ctx, &Input{Record: payment(map[string]any{"card_country": "KP"})}); err != nil || d.Action != decision.Block {
		t.Fatalf("the old policy no longer decides: %v %v", d.Action, err)
	}
	var refused []string
	for _, l := range logs.lines() {
		if strings.Contains(l, "reload refused") {
			refused = append(refused, l)
		}
	}
	want := "policy reload refused, still serving revision " + old.Revision + ": " + path + ":"
	if len(refused) != 1 || !strings.Contains(refused[0], want) || !strings.Contains(refused[0], "level=ERROR") {
		t.Fatalf("refusal log lines = %q, want one containing %q", refused, want)
	}
}

// waitSwap waits for the next swap; the deadline only bounds a failing test.
func waitSwap(t *testing.T, swaps <-chan *Policy) *Policy {
	t.Helper()
	select {
	case p := <-swaps:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no reload within 10s")
		return nil
	}
}

func TestEngineWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dir := copyBundle(t, "testdata/basic")
	e, _ := newEngine(t, dir, WithDebounce(50*time.Millisecond))
	swaps := make(chan *Policy, 4)
	e.OnSwap(func(_, n *Policy) { swaps <- n })
	done := make(chan error)
	go func() { done <- e.Watch(ctx) }()
	time.Sleep(100 * time.Millisecond) // let the watcher start (a missed event would fail the test, not pass it)

	lowerThreshold(t, dir)
	p := waitSwap(t, swaps)
	if d, _ := p.Decide(ctx, cardTestingInput()); d.Action != decision.Block {
		t.Errorf("the edit was not picked up: %s", d.Action)
	}

	// A rule in a new directory: the watch follows new directories.
	sub := filepath.Join(dir, "risk", "rules", "geo")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // an empty directory loads nothing new: no swap to wait for
	writeFile(t, filepath.Join(sub, "far_away.rego"), ruleSource("far_away", "", ""))
	p = waitSwap(t, swaps)
	if _, ok := p.Rule("far_away"); !ok {
		t.Errorf("the rule in a new directory was not loaded: %v", p.Rules)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Watch = %v, want nil when ctx ends", err)
	}
}

func TestEngineWatchTarball(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := tarball(t, "testdata/basic", map[string]string{".manifest": `{"revision": "r1"}`})
	e, _ := newEngine(t, path, WithDebounce(50*time.Millisecond))
	swaps := make(chan *Policy, 4)
	e.OnSwap(func(_, n *Policy) { swaps <- n })
	go func() { _ = e.Watch(ctx) }()
	time.Sleep(100 * time.Millisecond)

	// Replace the file by rename, as a deploy does.
	next := tarball(t, "testdata/basic", map[string]string{".manifest": `{"revision": "r2"}`})
	if err := os.Rename(next, path); err != nil {
		t.Fatal(err)
	}
	if p := waitSwap(t, swaps); p.Revision != "r2" {
		t.Errorf("revision = %q, want r2", p.Revision)
	}
}

// TestEngineConcurrentDecide decides from several goroutines while the
// bundle is reloaded; run with -race.
func TestEngineConcurrentDecide(t *testing.T) {
	ctx := context.Background()
	dir := copyBundle(t, "testdata/basic")
	e, _ := newEngine(t, dir)
	swapped := map[string]bool{e.Current().Revision: true}
	e.OnSwap(func(_, n *Policy) { swapped[n.Revision] = true }) // swaps run one at a time

	var stop atomic.Bool
	var wg sync.WaitGroup
	seen := make(chan map[string]bool, 4)
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			revs := map[string]bool{}
			defer func() { seen <- revs }()
			for !stop.Load() {
				p := e.Current()
				d, err := p.Decide(ctx, &Input{Record: payment(map[string]any{"card_country": "KP"})})
				if err != nil {
					errs <- err
					return
				}
				if d.Action != decision.Block || d.PolicyRevision != p.Revision {
					errs <- errors.New("inconsistent decision " + string(d.Action) + " under " + d.PolicyRevision)
					return
				}
				revs[d.PolicyRevision] = true
			}
		})
	}
	for i := range 5 {
		writeFile(t, filepath.Join(dir, "risk/lists/data.json"), `{"blocked_countries": ["KP", "X`+string(rune('A'+i))+`"]}`)
		if err := e.Reload(ctx); err != nil {
			t.Error(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	close(seen)
	for err := range errs {
		t.Error(err)
	}
	if len(swapped) != 6 {
		t.Errorf("swapped %d revisions, want 6", len(swapped))
	}
	for revs := range seen {
		for rev := range revs {
			if !swapped[rev] {
				t.Errorf("decided under %s, which was never swapped in", rev)
			}
		}
	}
}

func TestNewEngineBroken(t *testing.T) {
	dir := writeBundle(t, map[string]string{"risk/rules/x.rego": "package risk.rules.x\n"})
	_, err := NewEngine(context.Background(), dir, nil)
	var errs Errors
	if !errors.As(err, &errs) || !strings.Contains(err.Error(), "x.rego:1: rule x: package risk.rules.x has no METADATA") {
		t.Fatalf("NewEngine = %v", err)
	}
}
