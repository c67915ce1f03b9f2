package policy

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch reloads the bundle when its files change: every directory of a
// bundle directory (new ones too), or the .tar.gz file. A burst of events
// (an editor's save, a git checkout) leads to one reload once it has been
// quiet for the debounce time. Watch returns nil when ctx ends.
func (e *Engine) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch policy bundle %s: %w", e.path, err)
	}
	defer w.Close()

	info, err := os.Stat(e.path)
	if err != nil {
		return fmt.Errorf("watch policy bundle: %w", err)
	}
	isDir := info.IsDir()
	if isDir {
		err = watchTree(w, e.path)
	} else {
		// Watch the directory: a file replaced by rename keeps no watch.
		err = w.Add(filepath.Dir(e.path))
	}
	if err != nil {
		return fmt.Errorf("watch policy bundle %s: %w", e.path, err)
	}
	e.log.Info("watching policy bundle", "path", e.path)

	quiet := time.NewTimer(e.debounce)
	quiet.Stop()
	defer quiet.Stop()
	target := filepath.Clean(e.path)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Op == fsnotify.Chmod || (!isDir && filepath.Clean(ev.Name) != target) {
				continue
			}
			if isDir && ev.Has(fsnotify.Create) {
				if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
					if err := watchTree(w, ev.Name); err != nil {
						e.log.Warn("policy watch: cannot watch new directory", "dir", ev.Name, "err", err)
					}
				}
			}
			quiet.Reset(e.debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			e.log.Warn("policy watch", "path", e.path, "err", err)
		case <-quiet.C:
			_ = e.Reload(ctx) // a refused reload is logged by Reload
		}
	}
}

// watchTree adds dir and every directory below it, skipping dot directories
// as the bundle reader does.
func watchTree(w *fsnotify.Watcher, dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if path != dir && len(d.Name()) > 1 && d.Name()[0] == '.' {
			return filepath.SkipDir
		}
		return w.Add(path)
	})
}
