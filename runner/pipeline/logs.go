package pipeline

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/record"
)

// JSONL appends one JSON document per line to a file or a stream. Writes are
// buffered and flushed within flushEvery, so a tail of the log is never far
// behind, without a syscall per record. Safe for concurrent use.
type JSONL struct {
	mu      sync.Mutex
	w       *bufio.Writer
	closer  io.Closer
	enc     *json.Encoder
	pending *time.Timer // armed while unflushed data waits
	err     error       // first error of a background flush
}

const flushEvery = 200 * time.Millisecond

// OpenJSONL opens path for appending ("-" is stdout, "stderr" is stderr) and
// creates its directory. An empty path gives a nil *JSONL, which discards.
func OpenJSONL(path string) (*JSONL, error) {
	switch path {
	case "":
		return nil, nil
	case "-", "stdout":
		return NewJSONL(os.Stdout, nil), nil
	case "stderr":
		return NewJSONL(os.Stderr, nil), nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return NewJSONL(f, f), nil
}

// NewJSONL writes to w; closer (may be nil) is closed by Close.
func NewJSONL(w io.Writer, closer io.Closer) *JSONL {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &JSONL{w: bw, closer: closer, enc: enc}
}

// Write encodes v as one line.
func (l *JSONL) Write(v any) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	if err := l.enc.Encode(v); err != nil {
		return err
	}
	if l.pending == nil {
		l.pending = time.AfterFunc(flushEvery, l.flushLater)
	}
	return nil
}

func (l *JSONL) flushLater() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = nil
	if err := l.w.Flush(); err != nil && l.err == nil {
		l.err = err
	}
}

// Flush writes out what is buffered.
func (l *JSONL) Flush() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Flush()
}

// Close flushes and closes the underlying file.
func (l *JSONL) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending != nil {
		l.pending.Stop()
		l.pending = nil
	}
	err := l.w.Flush()
	if l.closer != nil {
		if cerr := l.closer.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// DeadLetterEntry is one line of the dead-letter log.
type DeadLetterEntry struct {
	At time.Time `json:"at"` // wall time it was refused
	*record.DeadLetter
}

// DecisionWriter receives every decision made (the decision log).
type DecisionWriter interface {
	WriteDecision(d *decision.Decision) error
}

// DeadLetterWriter receives every record that could not be used.
type DeadLetterWriter interface {
	WriteDeadLetter(dl *record.DeadLetter) error
}

// DecisionLog writes decisions as JSONL.
type DecisionLog struct{ *JSONL }

func (l DecisionLog) WriteDecision(d *decision.Decision) error { return l.Write(d) }

// DeadLetterLog writes dead letters as JSONL, stamped with wall time.
type DeadLetterLog struct{ *JSONL }

func (l DeadLetterLog) WriteDeadLetter(dl *record.DeadLetter) error {
	return l.Write(DeadLetterEntry{At: time.Now().UTC(), DeadLetter: dl})
}
