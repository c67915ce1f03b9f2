package ingest_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/ingest"
	"github.com/vigil-risk/vigil/runner/record"
)

func TestFile(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		format  record.Format
		content string
		want    string
	}{
		{
			name: "jsonl with bad lines in the middle",
			file: "payments.jsonl",
			content: paymentLine("p1", 10, "") +
				`{"id": "p2", "ts": ` + "\n" + // malformed
				paymentLine("p3", 30, "") +
				paymentLine("p4", -1, "") + // amount below its minimum
				"\n" +
				paymentLine("p6", 60, ""),
			want: "rec p1 @1, dead @2, rec p3 @3, dead @4, rec p6 @6",
		},
		{
			name: "csv with a short row in the middle",
			file: "payments.csv",
			content: "id,ts,type,amount,currency\n" +
				"c1,2026-03-01T10:00:00Z,payment,10.5,eur\n" +
				"c2,2026-03-01T10:00:01Z,payment\n" +
				"c3,1772359202,payment,30,usd\n",
			want: "rec c1 @2, dead @3, rec c3 @4",
		},
		{
			name:    "format detected from the content",
			file:    "events.log",
			content: paymentLine("a1", 1, "") + paymentLine("a2", 2, ""),
			want:    "rec a1 @1, rec a2 @2",
		},
		{
			name:    "format given",
			file:    "events.txt",
			format:  record.FormatCSV,
			content: "id,ts,type\nt1,2026-03-01T10:00:00Z,login\n",
			want:    "rec t1 @2",
		},
		{
			name: "empty file",
			file: "empty.jsonl",
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.file)
			writeFile(t, path, tt.content)
			c := newCollector()
			src := &ingest.File{Path: path, Format: tt.format, Normalizer: shippedNormalizer(t)}
			if err := src.Run(t.Context(), c); err != nil {
				t.Fatalf("Run: %v", err)
			}
			got := c.collected()
			if s := summaries(got); s != tt.want {
				t.Fatalf("delivered %s\nwant      %s", s, tt.want)
			}
			lines := strings.Split(tt.content, "\n")
			for _, e := range got {
				if e.dead == nil {
					if e.pos.Source != "file:"+path {
						t.Errorf("record %s from %q, want file:%s", e.rec.ID, e.pos.Source, path)
					}
					continue
				}
				if e.dead.Source != "file:"+path || e.dead.Raw != lines[e.dead.Line-1] || len(e.dead.Errors) == 0 {
					t.Errorf("dead letter %+v: want source file:%s, raw %q and a reason", e.dead, path, lines[e.dead.Line-1])
				}
			}
		})
	}
}

func TestFileNormalises(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.csv")
	writeFile(t, path, "transaction_id,ts,type,amount,currency\n x1 ,1772359200,PAYMENT,12.50,eur\n")
	c := newCollector()
	if err := (&ingest.File{Path: path, Normalizer: shippedNormalizer(t)}).Run(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	got := c.collected()
	if len(got) != 1 || got[0].dead != nil {
		t.Fatalf("delivered %s", summaries(got))
	}
	rec := got[0].rec
	want := map[string]any{"id": "x1", "ts": "2026-03-01T10:00:00Z", "type": "payment", "amount": 12.5, "currency": "EUR"}
	for k, v := range want {
		if rec.Fields[k] != v {
			t.Errorf("field %s = %#v, want %#v", k, rec.Fields[k], v)
		}
	}
	if rec.ID != "x1" || rec.Type != "payment" || !rec.Time.Equal(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("record = %q %q %v", rec.ID, rec.Type, rec.Time)
	}
}

func TestFileHandlerErrorStops(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.jsonl")
	writeFile(t, path, paymentLine("p1", 1, "")+paymentLine("p2", 2, "")+paymentLine("p3", 3, "")+paymentLine("p4", 4, ""))
	c := newCollector()
	c.before = func(rec record.Record) error {
		if rec.ID == "p3" {
			return errRefused
		}
		return nil
	}
	err := (&ingest.File{Path: path, Normalizer: shippedNormalizer(t)}).Run(t.Context(), c)
	if !errors.Is(err, errRefused) {
		t.Fatalf("Run = %v, want the handler's error", err)
	}
	if s := summaries(c.collected()); s != "rec p1 @1, rec p2 @2" {
		t.Fatalf("delivered %s; nothing after the refused record may be", s)
	}
}

func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.jsonl")
	err := (&ingest.File{Path: missing, Normalizer: shippedNormalizer(t)}).Run(t.Context(), newCollector())
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: Run = %v, want a not-exist error naming %s", err, missing)
	}

	badHeader := filepath.Join(dir, "bad.csv")
	writeFile(t, badHeader, "id,,ts\nx,y,z\n")
	err = (&ingest.File{Path: badHeader, Normalizer: shippedNormalizer(t)}).Run(t.Context(), newCollector())
	if err == nil || !strings.Contains(err.Error(), badHeader+":1: CSV header") {
		t.Errorf("bad CSV header: Run = %v, want an error naming the file and line", err)
	}

	err = (&ingest.File{Path: badHeader}).Run(t.Context(), newCollector())
	if err == nil || !strings.Contains(err.Error(), "file:"+badHeader+": no Normalizer") {
		t.Errorf("no normaliser: Run = %v", err)
	}
}

func TestFileCancelled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.jsonl")
	writeFile(t, path, paymentLine("p1", 1, "")+paymentLine("p2", 2, "")+paymentLine("p3", 3, ""))
	ctx, cancel := context.WithCancel(t.Context())
	c := newCollector()
	c.before = func(rec record.Record) error {
		if rec.ID == "p2" {
			cancel() // e.g. SIGTERM while the second record is decided
		}
		return nil
	}
	err := (&ingest.File{Path: path, Normalizer: shippedNormalizer(t)}).Run(ctx, c)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if s := summaries(c.collected()); s != "rec p1 @1, rec p2 @2" {
		t.Fatalf("delivered %s; the record in hand is finished, no new one read", s)
	}
}

func TestFollowAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.jsonl")
	writeFile(t, path, paymentLine("p1", 1, ""))
	c := newCollector()
	src := &ingest.File{Path: path, Follow: true, Poll: 5 * time.Millisecond, Normalizer: shippedNormalizer(t)}
	run := start(t, src, c)
	c.expect(t, "rec p1 @1")

	appendFile(t, path, paymentLine("p2", 2, "")+paymentLine("p3", 3, ""))
	c.expect(t, "rec p2 @2", "rec p3 @3")

	// A line written in two parts is one record, not a malformed half.
	line := paymentLine("p4", 4, "")
	appendFile(t, path, line[:20])
	time.Sleep(4 * src.Poll) // let the reader see the half line (not an assertion)
	appendFile(t, path, line[20:]+"{broken\n")
	c.expect(t, "rec p4 @4", "dead @5")

	if err := run.stop(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
}

func TestFollowFileAppearsLater(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later", "p.jsonl")
	c := newCollector()
	start(t, &ingest.File{Path: path, Follow: true, Poll: 5 * time.Millisecond, Normalizer: shippedNormalizer(t)}, c)
	writeFile(t, path, paymentLine("p1", 1, ""))
	c.expect(t, "rec p1 @1")
	appendFile(t, path, paymentLine("p2", 2, ""))
	c.expect(t, "rec p2 @2")
}

func TestFollowRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.csv")
	writeFile(t, path, "id,ts,type,amount\n"+
		"r1,2026-03-01T10:00:00Z,payment,1\n"+
		"r2,2026-03-01T10:00:01Z,payment,2\n")
	entered, release := make(chan struct{}), make(chan struct{})
	c := newCollector()
	c.before = func(rec record.Record) error {
		if rec.ID == "r1" {
			close(entered)
			<-release // hold the reader while the file is rotated under it
		}
		return nil
	}
	start(t, &ingest.File{Path: path, Follow: true, Poll: 5 * time.Millisecond, Normalizer: shippedNormalizer(t)}, c)
	select {
	case <-entered:
	case <-time.After(waitLimit):
		t.Fatal("first record never delivered")
	}
	// The writer adds a last row to the old file, then rotates: rename and a
	// new file whose header orders the columns differently.
	appendFile(t, path, "r3,2026-03-01T10:00:02Z,payment,3\n")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, "amount,type,ts,id\n"+
		"11,payment,2026-03-01T11:00:00Z,n1\n"+
		"12,payment,2026-03-01T11:00:01Z,n2\n")
	close(release)

	got := c.expect(t, "rec r1 @2", "rec r2 @3", "rec r3 @4", "rec n1 @2", "rec n2 @3")
	if a := got[3].rec.Fields["amount"]; a != 11.0 {
		t.Errorf("n1 amount = %#v, want 11: the new file's header was not read", a)
	}
	if got[3].pos.Index != 0 {
		t.Errorf("n1 index = %d, want 0 (first record of the new file)", got[3].pos.Index)
	}

	// The old file is let go; the new one is followed.
	appendFile(t, path, "13,payment,2026-03-01T11:00:02Z,n3\n")
	c.expect(t, "rec n3 @4")
}

func TestFollowTruncation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.jsonl")
	pad := strings.Repeat("x", 200)
	writeFile(t, path, paymentLine("p1", 1, pad)+paymentLine("p2", 2, pad))
	c := newCollector()
	start(t, &ingest.File{Path: path, Follow: true, Poll: 5 * time.Millisecond, Normalizer: shippedNormalizer(t)}, c)
	c.expect(t, "rec p1 @1", "rec p2 @2")

	// copytruncate: copy the file away, truncate it in place, and the writer
	// carries on appending. The new content is shorter than what was read,
	// so the truncation shows however late the reader looks.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path+".1", string(data))
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, paymentLine("n1", 1, ""))
	c.expect(t, "rec n1 @1")
	appendFile(t, path, paymentLine("n2", 2, ""))
	c.expect(t, "rec n2 @2")
}

func TestFollowBrokenJSONDocument(t *testing.T) {
	// A JSON document that breaks cannot be read on; the file is not read
	// again from the start either (that would repeat its records), but the
	// next one is read once the file is rotated.
	path := filepath.Join(t.TempDir(), "p.json")
	writeFile(t, path, "[\n"+strings.TrimSpace(paymentLine("j1", 1, ""))+",\n{broken\n")
	c := newCollector()
	start(t, &ingest.File{Path: path, Follow: true, Poll: 5 * time.Millisecond, Normalizer: shippedNormalizer(t)}, c)
	c.expect(t, "rec j1 @2", "dead @3")

	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, "["+strings.TrimSpace(paymentLine("j2", 2, ""))+"]\n")
	c.expect(t, "rec j2 @1")
}

func TestFollowCancel(t *testing.T) {
	tests := []struct {
		name  string
		exist bool
	}{
		{"waiting for more lines", true},
		{"waiting for the file to appear", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "p.jsonl")
			if tt.exist {
				writeFile(t, path, paymentLine("p1", 1, ""))
			}
			c := newCollector()
			// A poll of an hour: the cancel must cut the wait short, not
			// be noticed at the next look at the file.
			run := start(t, &ingest.File{Path: path, Follow: true, Poll: time.Hour, Normalizer: shippedNormalizer(t)}, c)
			if tt.exist {
				c.expect(t, "rec p1 @1")
			}
			began := time.Now()
			if err := run.stop(t); !errors.Is(err, context.Canceled) {
				t.Fatalf("Run = %v, want context.Canceled", err)
			}
			t.Logf("returned %v after the cancel", time.Since(began))
		})
	}
}

func TestReader(t *testing.T) {
	// Like standard input: records are delivered as they arrive, not when
	// the stream ends.
	pr, pw := io.Pipe()
	t.Cleanup(func() { pr.Close() }) // unblocks a write if Run failed early
	write := func(s string) {
		go io.WriteString(pw, s) // a pipe write waits for the reader
	}
	c := newCollector()
	run := start(t, &ingest.Reader{SourceName: "stdin", R: pr, Normalizer: shippedNormalizer(t)}, c)
	write(paymentLine("s1", 1, ""))
	got := c.expect(t, "rec s1 @1")
	if got[0].pos.Source != "stdin" {
		t.Errorf("source = %q, want stdin", got[0].pos.Source)
	}
	write("[1]\n" + paymentLine("s3", 3, ""))
	got = c.expect(t, "dead @2", "rec s3 @3")
	if got[0].dead.Source != "stdin" || got[0].dead.Raw != "[1]" {
		t.Errorf("dead letter = %+v", got[0].dead)
	}
	pw.Close()
	if err := run.wait(t); err != nil {
		t.Fatalf("Run at the end of the stream = %v, want nil", err)
	}
}

func TestReaderErrors(t *testing.T) {
	in := "id,ts,type\nr1,2026-03-01T10:00:00Z,login\nr2,2026-03-01T10:00:00Z,login\n"
	c := newCollector()
	c.before = func(record.Record) error { return errRefused }
	err := (&ingest.Reader{SourceName: "stdin", R: strings.NewReader(in), Format: record.FormatCSV, Normalizer: shippedNormalizer(t)}).Run(t.Context(), c)
	if !errors.Is(err, errRefused) || len(c.collected()) != 0 {
		t.Errorf("Run = %v, want the handler's error and nothing delivered", err)
	}

	pr, pw := io.Pipe()
	pw.CloseWithError(errors.New("stdin: connection reset"))
	err = (&ingest.Reader{SourceName: "stdin", R: pr, Normalizer: shippedNormalizer(t)}).Run(t.Context(), newCollector())
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("Run over a failing stream = %v, want its error", err)
	}

	err = (&ingest.Reader{SourceName: "stdin", R: strings.NewReader(in)}).Run(t.Context(), newCollector())
	if err == nil || !strings.Contains(err.Error(), "stdin: no Normalizer") {
		t.Errorf("no normaliser: Run = %v", err)
	}
}
