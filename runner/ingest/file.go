package ingest

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/record"
)

// File reads records from a file. With Follow it keeps reading as the file
// grows, like tail -F: it waits for the file to appear, and when the file is
// rotated (renamed and recreated) or truncated it finishes the old content and
// starts again at the beginning of the new one.
type File struct {
	Path       string
	Format     record.Format
	Follow     bool
	Poll       time.Duration // how often a followed file is checked; 250ms when zero
	Normalizer NormalizerFunc
	Options    []record.ReaderOption
	Log        *slog.Logger
}

func (f *File) Name() string { return "file:" + f.Path }

func (f *File) Run(ctx context.Context, h Handler) error {
	if err := f.Normalizer.check(f.Name()); err != nil {
		return err
	}
	format := f.Format
	if format == "" || format == record.FormatAuto {
		format = record.FormatFor(f.Path)
	}
	gzipped := strings.HasSuffix(strings.ToLower(f.Path), ".gz")
	if gzipped && f.Follow {
		return fmt.Errorf("%s: a gzip file cannot be followed", f.Name())
	}
	if !f.Follow {
		file, err := os.Open(f.Path)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name(), err)
		}
		defer file.Close()
		var in io.Reader = file
		if gzipped {
			zr, err := gzip.NewReader(bufio.NewReaderSize(file, 64<<10))
			if err != nil {
				return fmt.Errorf("%s: %w", f.Name(), err)
			}
			defer zr.Close()
			in = zr
		}
		err = drain(ctx, record.NewReader(in, format, f.Name(), f.Normalizer(), f.Options...), h)
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	poll := f.Poll
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	log := f.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for {
		t, err := openTail(ctx, f.Path, poll)
		if err != nil {
			return err
		}
		err = f.follow(ctx, t, format, h, log)
		t.Close()
		if err != nil {
			return err
		}
	}
}

// follow reads one incarnation of the followed file until it is rotated or
// truncated (nil: open the next one) or reading must stop (the error).
func (f *File) follow(ctx context.Context, t *tail, format record.Format, h Handler, log *slog.Logger) error {
	err := drain(ctx, record.NewReader(t, format, f.Name(), f.Normalizer(), f.Options...), h)
	if !errors.Is(err, io.EOF) {
		return err
	}
	if !t.rotated {
		// The reader gave up on this file before its end (a JSON document
		// broke: nothing after the break can be trusted). Reading it again
		// from the start would repeat every record, so wait for the next file.
		log.Warn("rest of the followed file cannot be read; waiting for it to be rotated", "path", f.Path)
		if _, err := io.Copy(io.Discard, t); err != nil {
			return err
		}
	}
	log.Info("followed file rotated or truncated; reading the new one from the start", "path", f.Path)
	return nil
}

// tail is an io.Reader over a growing file. At the end of the data it waits
// for more instead of returning io.EOF; it returns io.EOF only once the path
// names another file (rotation) or the file shrank (truncation) and the old
// content has been read to the end.
type tail struct {
	ctx     context.Context
	path    string
	poll    time.Duration
	file    *os.File
	info    os.FileInfo
	offset  int64
	rotated bool
}

// openTail waits until path exists and opens it.
func openTail(ctx context.Context, path string, poll time.Duration) (*tail, error) {
	for {
		file, err := os.Open(path)
		if err == nil {
			info, err := file.Stat()
			if err != nil {
				file.Close()
				return nil, fmt.Errorf("file:%s: %w", path, err)
			}
			return &tail{ctx: ctx, path: path, poll: poll, file: file, info: info}, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("file:%s: %w", path, err)
		}
		if err := sleep(ctx, poll); err != nil {
			return nil, err
		}
	}
}

func (t *tail) Read(p []byte) (int, error) {
	for {
		n, err := t.file.Read(p)
		t.offset += int64(n)
		if n > 0 {
			return n, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		// At the end: has the file been replaced or truncated?
		if now, err := os.Stat(t.path); err == nil {
			if !os.SameFile(t.info, now) || now.Size() < t.offset {
				// A writer may have appended to the old file between our
				// last read and the rename: take that before moving on.
				if n, _ := t.file.Read(p); n > 0 {
					t.offset += int64(n)
					return n, nil
				}
				t.rotated = true
				return 0, io.EOF
			}
		}
		if err := sleep(t.ctx, t.poll); err != nil {
			return 0, err
		}
	}
}

func (t *tail) Close() error { return t.file.Close() }

func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// Reader reads records from any stream once, such as standard input.
type Reader struct {
	SourceName string
	R          io.Reader
	Format     record.Format
	Normalizer NormalizerFunc
	Options    []record.ReaderOption
}

func (r *Reader) Name() string { return r.SourceName }

func (r *Reader) Run(ctx context.Context, h Handler) error {
	if err := r.Normalizer.check(r.Name()); err != nil {
		return err
	}
	format := cmp.Or(r.Format, record.FormatAuto)
	err := drain(ctx, record.NewReader(r.R, format, r.SourceName, r.Normalizer(), r.Options...), h)
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}
