package pipeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
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
// behind, without a syscall per record. Safe for concurrent use: values are
// encoded outside the lock, which guards only the copy into the buffer.
type JSONL struct {
	mu      sync.Mutex
	w       *bufio.Writer
	closer  io.Closer
	pending *time.Timer // armed while unflushed data waits
	closed  bool
	err     error     // first error of a background flush
	lines   sync.Pool // *lineBuffer
}

// lineBuffer encodes one value; pooled, so that a line costs no allocation
// beyond what encoding/json needs.
type lineBuffer struct {
	buf bytes.Buffer
	enc *json.Encoder
	raw []byte // lines written without the encoder
}

const (
	flushEvery = 200 * time.Millisecond
	// maxPooledLine keeps a rare huge line from pinning its buffer.
	maxPooledLine = 64 << 10
)

// ErrClosed is returned by a write to a closed JSONL.
var ErrClosed = errors.New("jsonl: write after close")

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
	l := &JSONL{w: bufio.NewWriterSize(w, 64<<10), closer: closer}
	l.lines.New = func() any {
		lb := &lineBuffer{}
		lb.enc = json.NewEncoder(&lb.buf)
		lb.enc.SetEscapeHTML(false)
		return lb
	}
	return l
}

// Write encodes v as one line.
func (l *JSONL) Write(v any) error {
	if l == nil {
		return nil
	}
	lb := l.lines.Get().(*lineBuffer)
	defer func() {
		if lb.buf.Cap() <= maxPooledLine {
			l.lines.Put(lb)
		}
	}()
	lb.buf.Reset()
	if err := lb.enc.Encode(v); err != nil {
		return fmt.Errorf("jsonl: encode %T: %w", v, err)
	}
	return l.writeLine(lb.buf.Bytes())
}

// writeLine copies one encoded line into the buffer.
func (l *JSONL) writeLine(line []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return ErrClosed
	case l.err != nil:
		return l.err
	}
	if _, err := l.w.Write(line); err != nil {
		return err
	}
	if l.pending == nil {
		l.pending = time.AfterFunc(flushEvery, l.flushLater)
	}
	return nil
}

// writeDecision is Write for a decision, encoded by appendDecision.
func (l *JSONL) writeDecision(d *decision.Decision) error {
	if l == nil {
		return nil
	}
	lb := l.lines.Get().(*lineBuffer)
	defer func() {
		if cap(lb.raw) <= maxPooledLine {
			l.lines.Put(lb)
		}
	}()
	var err error
	if lb.raw, err = appendDecision(lb.raw[:0], d); err != nil {
		return fmt.Errorf("jsonl: encode %T: %w", d, err)
	}
	lb.raw = append(lb.raw, '\n')
	return l.writeLine(lb.raw)
}

func (l *JSONL) flushLater() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = nil
	if l.closed { // Close flushed already; its timer fired while it waited for the lock
		return
	}
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
	if l.closed {
		return nil
	}
	return l.w.Flush()
}

// Close flushes and closes the underlying file. Later writes fail with
// ErrClosed; a second Close does nothing.
func (l *JSONL) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
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

func (l DecisionLog) WriteDecision(d *decision.Decision) error { return l.writeDecision(d) }

// DeadLetterLog writes dead letters as JSONL, stamped with wall time.
type DeadLetterLog struct{ *JSONL }

func (l DeadLetterLog) WriteDeadLetter(dl *record.DeadLetter) error {
	return l.Write(DeadLetterEntry{At: time.Now().UTC(), DeadLetter: dl})
}
