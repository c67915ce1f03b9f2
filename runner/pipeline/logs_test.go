package pipeline_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/pipeline"
)

type entry struct {
	N    int    `json:"n"`
	Text string `json:"text"`
}

// decodeLines checks that every line is one JSON entry and returns them.
func decodeLines(t *testing.T, path string) []entry {
	t.Helper()
	var out []entry
	for i, line := range readLines(t, path) {
		var e entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%s:%d: %v: %q", path, i+1, err, line)
		}
		out = append(out, e)
	}
	return out
}

func TestJSONLFlushesWithoutClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "decisions.jsonl")
	l, err := pipeline.OpenJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	began := time.Now()
	if err := l.Write(entry{N: 1, Text: "<b>&</b>"}); err != nil {
		t.Fatal(err)
	}
	// A reader tailing the log sees the line soon, with no Close or Flush.
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 0 {
			if want := `{"n":1,"text":"<b>&</b>"}` + "\n"; string(data) != want {
				t.Fatalf("log = %q, want %q (one line, HTML not escaped)", data, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the line was not flushed without Close")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("flushed after %v", time.Since(began))
}

func TestJSONLClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.jsonl")
	l, err := pipeline.OpenJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000 // several times the buffer
	for i := range n {
		if err := l.Write(entry{N: i, Text: strings.Repeat("x", 40)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := decodeLines(t, path)
	if len(got) != n || got[0].N != 0 || got[n-1].N != n-1 {
		t.Fatalf("%d lines after Close, want %d in order", len(got), n)
	}
	if err := l.Write(entry{N: -1}); !errors.Is(err, pipeline.ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := l.Flush(); err != nil {
		t.Errorf("Flush after Close = %v", err)
	}

	// Opening it again appends.
	l, err = pipeline.OpenJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Write(entry{N: n}); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := decodeLines(t, path); len(got) != n+1 || got[n].N != n {
		t.Fatalf("%d lines after reopening, want %d", len(got), n+1)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestJSONLConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.jsonl")
	l, err := pipeline.OpenJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 300
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				// Lines of different lengths, some past the pooled size.
				text := strings.Repeat("y", (w*each+i)%97)
				if i == 7 {
					text = strings.Repeat("z", 70<<10)
				}
				if err := l.Write(entry{N: w*each + i, Text: text}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	seen := make([]bool, writers*each)
	for _, e := range decodeLines(t, path) {
		if seen[e.N] {
			t.Fatalf("entry %d written twice", e.N)
		}
		seen[e.N] = true
	}
	for n, ok := range seen {
		if !ok {
			t.Fatalf("entry %d lost", n)
		}
	}
}

func TestJSONLErrors(t *testing.T) {
	t.Run("a value that cannot be encoded", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "d.jsonl")
		l, err := pipeline.OpenJSONL(path)
		if err != nil {
			t.Fatal(err)
		}
		err = l.Write(map[string]any{"score": math.NaN()})
		if err == nil || !strings.Contains(err.Error(), "unsupported value: NaN") {
			t.Fatalf("Write(NaN) = %v", err)
		}
		if err := l.Write(entry{N: 2}); err != nil {
			t.Fatalf("a bad value broke the log: %v", err)
		}
		l.Close()
		if got := decodeLines(t, path); len(got) != 1 || got[0].N != 2 {
			t.Fatalf("log = %+v, want only the good line", got)
		}
	})
	t.Run("a failed background flush", func(t *testing.T) {
		f, err := os.Create(filepath.Join(t.TempDir(), "d.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		f.Close() // every write to it fails, as on a lost disk
		l := pipeline.NewJSONL(f, nil)
		deadline := time.Now().Add(10 * time.Second)
		for err = l.Write(entry{N: 1}); err == nil; err = l.Write(entry{N: 1}) {
			if time.Now().After(deadline) {
				t.Fatal("the flush error never reached a writer")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Write = %v, want the flush's error", err)
		}
	})
	t.Run("a directory that cannot be made", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		writeFile(t, file, "")
		path := filepath.Join(file, "d.jsonl")
		if _, err := pipeline.OpenJSONL(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("OpenJSONL = %v, want an error naming %s", err, path)
		}
	})
	t.Run("no path discards", func(t *testing.T) {
		l, err := pipeline.OpenJSONL("")
		if l != nil || err != nil {
			t.Fatalf("OpenJSONL(\"\") = %v, %v", l, err)
		}
		if l.Write(entry{}) != nil || l.Flush() != nil || l.Close() != nil ||
			(pipeline.DecisionLog{JSONL: l}).WriteDecision(nil) != nil {
			t.Fatal("a nil JSONL must discard")
		}
	})
}
