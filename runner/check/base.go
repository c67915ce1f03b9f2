package check

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ResolveBase finds the base bundle of an impact report. A ref that names
// an existing directory or file is used as is. Anything else is a git
// revision (a branch, tag or commit) of the repository holding policies: the
// policies directory as it was at that revision is extracted into a
// temporary directory (git archive), which cleanup removes. label names the
// base for the report, e.g. "origin/main (3f2a9c1e0b7d)".
func ResolveBase(ctx context.Context, ref, policies string) (dir, label string, cleanup func(), err error) {
	noop := func() {}
	if ref == "" {
		return "", "", noop, errors.New("--base: name a git revision or a bundle directory")
	}
	if _, err := os.Stat(ref); err == nil {
		return ref, ref, noop, nil
	}
	gitDir := policies
	if st, err := os.Stat(policies); err != nil || !st.IsDir() {
		return "", "", noop, fmt.Errorf("--base %s: not a file or directory, and %s is not a directory in a git work tree to find it in", ref, policies)
	}
	top, err := git(ctx, gitDir, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", "", noop, fmt.Errorf("--base %s: not a file or directory, and %s is not in a git work tree: %w", ref, policies, err)
	}
	prefix, err := git(ctx, gitDir, "rev-parse", "--show-prefix") // policies' path in the repository, with a trailing slash
	if err != nil {
		return "", "", noop, fmt.Errorf("--base %s: %w", ref, err)
	}
	commit, err := git(ctx, top, "rev-parse", "--verify", "--quiet", "--short=12", ref+"^{commit}")
	if err != nil {
		return "", "", noop, fmt.Errorf("--base %s: not a file, a directory or a git revision of %s", ref, top)
	}

	tmp, err := os.MkdirTemp("", "vigil-base-")
	if err != nil {
		return "", "", noop, fmt.Errorf("--base: %w", err)
	}
	cleanup = func() { os.RemoveAll(tmp) }
	args := []string{"-C", top, "archive", "--format=tar", commit}
	if prefix != "" {
		args = append(args, "--", prefix)
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		cleanup()
		return "", "", noop, fmt.Errorf("--base: %w", err)
	}
	if err := cmd.Start(); err != nil {
		cleanup()
		return "", "", noop, fmt.Errorf("--base: git archive: %w", err)
	}
	extractErr := untar(out, tmp)
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		cleanup()
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "did not match any files") {
			return "", "", noop, fmt.Errorf("--base %s: %s does not exist at %s", ref, strings.TrimSuffix(prefix, "/"), commit)
		}
		return "", "", noop, fmt.Errorf("--base %s: git archive: %v: %s", ref, err, msg)
	}
	if extractErr != nil {
		cleanup()
		return "", "", noop, fmt.Errorf("--base %s: %w", ref, extractErr)
	}
	label = ref
	if !strings.HasPrefix(commit, ref) {
		label += " (" + commit + ")"
	}
	return filepath.Join(tmp, filepath.FromSlash(prefix)), label, cleanup, nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return "", fmt.Errorf("git %s: %s", args[0], msg)
		}
		return "", fmt.Errorf("git %s: %w", args[0], err)
	}
	return strings.TrimSpace(string(out)), nil
}

// untar writes the regular files and directories of a tar stream under dir,
// refusing any path that would land outside it.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading git archive: %w", err)
		}
		name := filepath.FromSlash(h.Name)
		if !filepath.IsLocal(name) {
			return fmt.Errorf("git archive: unsafe path %q", h.Name)
		}
		target := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}
