package check

import (
	"bufio"
	"compress/gzip"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/ingest"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/record"
)

// source opens the dataset (gzip when .gz), counting the bytes read for the
// progress bar, and wraps it so that labels are taken off the records.
func (b *backtest) source(pipe *pipeline.Pipeline) (ingest.Source, error) {
	f, err := os.Open(b.o.Data)
	if err != nil {
		return nil, fmt.Errorf("backtest: %w", err)
	}
	if st, err := f.Stat(); err == nil {
		b.size = st.Size()
	}
	var in io.Reader = &countingReader{r: f, n: &b.read}
	format := b.o.Format
	if format == "" || format == record.FormatAuto {
		format = record.FormatFor(b.o.Data)
	}
	if strings.HasSuffix(strings.ToLower(b.o.Data), ".gz") {
		zr, err := gzip.NewReader(bufio.NewReaderSize(in, 64<<10))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("backtest: %s: %w", b.o.Data, err)
		}
		in = zr
	}
	inner := &ingest.Reader{SourceName: "backtest:" + b.o.Data, R: in, Format: format, Normalizer: pipe.Normalizer}
	return &labelledSource{Source: inner, b: b, closer: f}, nil
}

type countingReader struct {
	r io.Reader
	n interface{ Add(int64) int64 }
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// labelledSource takes each record's label off it before the pipeline sees
// it, and feeds the labels back as label records once they are due.
type labelledSource struct {
	ingest.Source
	b      *backtest
	closer io.Closer
}

func (s *labelledSource) Run(ctx context.Context, h ingest.Handler) error {
	defer s.closer.Close()
	lh := &labelHandler{Handler: h, b: s.b}
	return s.Source.Run(ctx, lh)
}

type labelHandler struct {
	ingest.Handler
	b       *backtest
	pending labelQueue
	seq     uint64
}

// errDone stops the replay once the records are past every period of
// interest: what follows cannot change the report.
var errDone = errors.New("backtest: past the periods of interest")

func (h *labelHandler) Record(ctx context.Context, rec record.Record, pos record.Position) error {
	if end := h.b.end(); !end.IsZero() && !rec.Time.Before(end) {
		return errDone
	}
	h.b.replayed.Add(1)
	// labels that are known by now reach the features first
	for len(h.pending) > 0 && !h.pending[0].rec.Time.After(rec.Time) {
		p := heap.Pop(&h.pending).(pendingLabel)
		h.b.labelArrived(p.rec, p.fraud, p.event)
		if err := h.Handler.Record(ctx, p.rec, pos); err != nil {
			return err
		}
	}
	raw, present := rec.Fields[h.b.labelField]
	if present {
		delete(rec.Fields, h.b.labelField)
		fraud, ok := truth(raw)
		if !ok {
			return fmt.Errorf("%s: label %s: %v is not a boolean", pos, h.b.labelField, raw)
		}
		h.b.labelsMu.Lock()
		h.b.labels[rec.ID] = fraud
		h.b.labelsMu.Unlock()
		h.seq++
		heap.Push(&h.pending, pendingLabel{rec: labelRecord(rec, fraud, h.b.o.LabelDelay), fraud: fraud, event: rec.Time, seq: h.seq})
	}
	return h.Handler.Record(ctx, rec, pos)
}

func (h *labelHandler) DeadLetter(ctx context.Context, dl *record.DeadLetter) error {
	h.b.refused.Add(1)
	return h.Handler.DeadLetter(ctx, dl)
}

// labelRecord is the label a record gets LabelDelay after it: the record's
// entity fields, fraud, and event_ts = the labelled record's time.
func labelRecord(rec record.Record, fraud bool, delay time.Duration) record.Record {
	at := rec.Time.Add(delay)
	fields := make(map[string]any, len(rec.Fields)+2)
	for k, v := range rec.Fields {
		fields[k] = v
	}
	id := "label:" + rec.ID
	fields["id"], fields["type"], fields["fraud"] = id, pipeline.LabelType, fraud
	fields["ts"], fields["event_ts"] = record.FormatTime(at), record.FormatTime(rec.Time)
	return record.Record{ID: id, Type: pipeline.LabelType, Time: at, Fields: fields}
}

func truth(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case float64:
		return x != 0, x == 0 || x == 1
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(x))
		return b, err == nil
	}
	return false, false
}

// pendingLabel is a label waiting for its arrival time.
type pendingLabel struct {
	rec   record.Record
	fraud bool
	event time.Time // of the labelled record
	seq   uint64
}

// labelQueue orders pending labels by the time they become known, then by
// the order of their records, so that the replay is deterministic.
type labelQueue []pendingLabel

func (q labelQueue) Len() int { return len(q) }
func (q labelQueue) Less(i, j int) bool {
	if !q[i].rec.Time.Equal(q[j].rec.Time) {
		return q[i].rec.Time.Before(q[j].rec.Time)
	}
	return q[i].seq < q[j].seq
}
func (q labelQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *labelQueue) Push(x any)   { *q = append(*q, x.(pendingLabel)) }
func (q *labelQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// progress draws a bar on the progress writer until stopped.
func (b *backtest) progress() func() {
	if b.o.Progress == nil || b.size == 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		start := time.Now()
		draw := func() {
			frac := min(1, float64(b.read.Load())/float64(b.size))
			const width = 30
			bar := strings.Repeat("█", int(frac*width)) + strings.Repeat("░", width-int(frac*width))
			n := b.replayed.Load()
			rate := float64(n) / time.Since(start).Seconds()
			fmt.Fprintf(b.o.Progress, "\r%s %5.1f%%  %d records  %.0f/s ", bar, frac*100, n, rate)
		}
		for {
			select {
			case <-done:
				draw()
				fmt.Fprintln(b.o.Progress)
				return
			case <-tick.C:
				draw()
			}
		}
	}()
	return func() { close(done); <-finished }
}
