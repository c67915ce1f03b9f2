package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// NewSecret is n random bytes, hex-encoded: a token or a key.
func NewSecret(n int) string { return hex.EncodeToString(randomBytes(n)) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes the program instead)
	return b
}

// ReadOrCreateSecret reads the secret kept in path, or makes one of n
// random bytes and writes it there, readable by the owner only (0600).
// Two processes starting at once agree: the one that links its file second
// reads the winner's secret. A file readable by others is refused.
func ReadOrCreateSecret(path string, n int) (secret string, created bool, err error) {
	for range 2 {
		b, err := os.ReadFile(path)
		if err == nil {
			if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o077 != 0 {
				return "", false, fmt.Errorf("%s is readable by others (mode %v): chmod 600 it", path, info.Mode().Perm())
			}
			s := strings.TrimSpace(string(b))
			if s == "" {
				return "", false, fmt.Errorf("%s is empty: delete it to have a new secret made", path)
			}
			return s, false, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", false, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return "", false, err
		}
		// Written whole under another name, then linked into place: a
		// reader never sees a half-written secret, and the link fails
		// when another process got there first.
		s := NewSecret(n)
		tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
		if err != nil {
			return "", false, err
		}
		_, werr := tmp.WriteString(s + "\n")
		if cerr := tmp.Close(); werr == nil {
			werr = cerr
		}
		if werr == nil {
			werr = os.Link(tmp.Name(), path)
		}
		os.Remove(tmp.Name())
		if errors.Is(werr, fs.ErrExist) {
			continue // made by another process meanwhile: read it
		}
		if werr != nil {
			return "", false, werr
		}
		return s, true, nil
	}
	return "", false, fmt.Errorf("%s: created and removed while reading it", path)
}
