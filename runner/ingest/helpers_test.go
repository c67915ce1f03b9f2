package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/ingest"
	"github.com/vigil-risk/vigil/runner/record"
)

// waitLimit bounds every wait for something a source should do; it is far
// above what any of them needs, so that a slow machine never fails a test.
const waitLimit = 10 * time.Second

// shippedNormalizer normalises to the schema shipped in policies/.
func shippedNormalizer(t testing.TB) ingest.NormalizerFunc {
	t.Helper()
	data, err := os.ReadFile("../../policies/schema.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := record.ParseSchema(data, "policies/schema.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n, err := record.NewNormalizer(s, record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return func() *record.Normalizer { return n }
}

// event is one thing a source handed over: a record or a dead letter.
type event struct {
	rec  record.Record
	pos  record.Position
	dead *record.DeadLetter
}

// String is "rec <id> @<line>" or "dead @<line>", which is what most tests
// compare.
func (e event) String() string {
	if e.dead != nil {
		return fmt.Sprintf("dead @%d", e.dead.Line)
	}
	return fmt.Sprintf("rec %s @%d", e.rec.ID, e.pos.Line)
}

// collector is a Handler that passes everything on to a channel. before,
// when set, runs first for every record and may refuse it.
type collector struct {
	events chan event
	before func(rec record.Record) error
}

func newCollector() *collector { return &collector{events: make(chan event, 10000)} }

func (c *collector) Record(_ context.Context, rec record.Record, pos record.Position) error {
	if c.before != nil {
		if err := c.before(rec); err != nil {
			return err
		}
	}
	c.events <- event{rec: rec, pos: pos}
	return nil
}

func (c *collector) DeadLetter(_ context.Context, dl *record.DeadLetter) error {
	c.events <- event{dead: dl}
	return nil
}

// next waits for the next event.
func (c *collector) next(t *testing.T) event {
	t.Helper()
	select {
	case e := <-c.events:
		return e
	case <-time.After(waitLimit):
		t.Fatalf("nothing delivered within %v", waitLimit)
		return event{}
	}
}

// expect waits for the next len(want) events and compares their summaries.
func (c *collector) expect(t *testing.T, want ...string) []event {
	t.Helper()
	got := make([]event, len(want))
	for i := range want {
		got[i] = c.next(t)
		if got[i].String() != want[i] {
			t.Fatalf("event %d = %s, want %s (wanted %v)", i, got[i], want[i], want)
		}
	}
	return got
}

// collected returns what was delivered, once the source has returned.
func (c *collector) collected() []event {
	var out []event
	for {
		select {
		case e := <-c.events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func summaries(events []event) string {
	s := make([]string, len(events))
	for i, e := range events {
		s[i] = e.String()
	}
	return strings.Join(s, ", ")
}

// running is a source started in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, src ingest.Source, h ingest.Handler) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- src.Run(ctx, h) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(waitLimit):
			t.Errorf("%s did not stop within %v of its context ending", src.Name(), waitLimit)
		}
	})
	return r
}

// stop cancels the source and returns what Run returned.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	return r.wait(t)
}

// wait returns what Run returned.
func (r *running) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(waitLimit):
		t.Fatalf("source did not return within %v", waitLimit)
		return nil
	}
}

// paymentLine is one JSONL payment; note pads it to any length.
func paymentLine(id string, amount float64, note string) string {
	line := fmt.Sprintf(`{"id":%q,"ts":"2026-03-01T10:00:00Z","type":"payment","amount":%v,"currency":"eur"`, id, amount)
	if note != "" {
		line += fmt.Sprintf(`,"note":%q`, note)
	}
	return line + "}\n"
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// appendFile appends as a log writer does (O_APPEND).
func appendFile(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
}

var errRefused = errors.New("handler refused the record")
