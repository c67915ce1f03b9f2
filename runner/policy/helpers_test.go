package policy

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// writeBundle writes files (bundle-relative slash path → content) into a
// fresh directory and returns it.
func writeBundle(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		writeFile(t, filepath.Join(dir, filepath.FromSlash(name)), content)
	}
	return dir
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

// copyBundle copies a testdata bundle into a temporary directory, outside
// any git work tree, so that tests may edit it.
func copyBundle(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "bundle")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// ruleSource is a minimal valid rule package; meta and body, when set,
// replace the METADATA block and the hit rule.
func ruleSource(name, meta, body string) string {
	if meta == "" {
		meta = "# METADATA\n# title: " + name + "\n# custom:\n#   severity: high\n#   action: block\n#   mode: enforce\n#   entity: card_id\n#   owner: risk\n"
	}
	if body == "" {
		body = "hit := {\"reason\": \"always\"} if input.record.type == \"payment\"\n"
	}
	return meta + "package risk.rules." + name + "\n\n" + body
}
