package policy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-risk/vigil/runner/decision"
)

// rsaKeys returns a fresh PEM private key and its PEM public key.
func rsaKeys(t *testing.T) (private, public string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
}

// buildBundle packs dir into a .tar.gz in a temporary directory.
func buildBundle(t *testing.T, dir string, o BuildOptions) (string, *BuildResult) {
	t.Helper()
	var buf bytes.Buffer
	res, err := Build(context.Background(), dir, &buf, o)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bundle.tar.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, res
}

// readTarball returns a bundle archive's files by path (leading "/" removed).
func readTarball(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(h.Name, "/")] = data
	}
}

// rewriteTarball writes files as a new bundle archive, as an attacker with
// write access to the artifact would.
func rewriteTarball(t *testing.T, files map[string][]byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := writeTarball(&buf, files, slices.Sorted(func(yield func(string) bool) {
		for k := range files {
			if !yield(k) {
				return
			}
		}
	})); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tampered.tar.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBuild(t *testing.T) {
	ctx := context.Background()
	dir := copyBundle(t, "testdata/basic")
	path, res := buildBundle(t, dir, BuildOptions{Revision: "3f2a9c1"})

	files := readTarball(t, path)
	if _, ok := files["risk/rules/big_amount_test.rego"]; ok {
		t.Error("the bundle holds a Rego unit test")
	}
	for _, want := range []string{".manifest", "risk/rules/big_amount.rego", SchemaFile, FeaturesFile} {
		if _, ok := files[want]; !ok {
			t.Errorf("the bundle lacks %s (files %v)", want, res.Files)
		}
	}
	if _, ok := files[SignaturesFile]; ok || res.Signed {
		t.Error("an unsigned build wrote a signature")
	}
	var m struct {
		Revision    string   `json:"revision"`
		Roots       []string `json:"roots"`
		RegoVersion int      `json:"rego_version"`
	}
	if err := json.Unmarshal(files[".manifest"], &m); err != nil {
		t.Fatal(err)
	}
	if m.Revision != "3f2a9c1" || !slices.Equal(m.Roots, []string{"risk"}) || m.RegoVersion != 1 {
		t.Errorf("manifest = %+v, want revision 3f2a9c1, roots [risk], rego_version 1", m)
	}
	if res.Revision != "3f2a9c1" || res.Rules != 5 {
		t.Errorf("result = %+v", res)
	}

	p, err := Load(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if p.Revision != "3f2a9c1" || len(p.Rules) != 5 {
		t.Errorf("loaded revision %q with %d rules", p.Revision, len(p.Rules))
	}
	d, err := p.Decide(ctx, &Input{Record: payment(map[string]any{"card_country": "IR"})})
	if err != nil {
		t.Fatal(err)
	}
	if d.Action != decision.Block || d.PolicyRevision != "3f2a9c1" {
		t.Errorf("decision %s under %q, want block under 3f2a9c1", d.Action, d.PolicyRevision)
	}

	// reproducible: the same files give the same bytes
	again, _ := buildBundle(t, dir, BuildOptions{Revision: "3f2a9c1"})
	a, _ := os.ReadFile(path)
	b, _ := os.ReadFile(again)
	if !bytes.Equal(a, b) {
		t.Error("two builds of the same directory differ")
	}
}

func TestBuildDefaultRevision(t *testing.T) {
	dir := copyBundle(t, "testdata/basic") // outside git: a content hash
	p, err := Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	_, res := buildBundle(t, dir, BuildOptions{})
	if res.Revision != p.Revision {
		t.Errorf("revision = %q, want the directory's %q", res.Revision, p.Revision)
	}
}

func TestBuildRefusesBrokenBundle(t *testing.T) {
	dir := writeBundle(t, map[string]string{"risk/rules/a.rego": ruleSource("a", "", "hit := {\"reason\": x}\n")})
	_, err := Build(context.Background(), dir, io.Discard, BuildOptions{})
	if err == nil || !strings.Contains(err.Error(), "a.rego:11: rego_unsafe_var_error") {
		t.Fatalf("error = %v, want the compile error at its line", err)
	}
}

func TestSignedBundle(t *testing.T) {
	ctx := context.Background()
	private, public := rsaKeys(t)
	_, otherPublic := rsaKeys(t)
	dir := copyBundle(t, "testdata/basic")
	signed, res := buildBundle(t, dir, BuildOptions{Revision: "r1", SigningKey: private})
	unsigned, _ := buildBundle(t, dir, BuildOptions{Revision: "r1"})
	if !res.Signed || res.Files[0] != SignaturesFile {
		t.Fatalf("result = %+v, want a signed bundle", res)
	}
	files := readTarball(t, signed)
	rule := "risk/rules/big_amount.rego"

	tamper := func(change func(map[string][]byte)) string {
		f := map[string][]byte{}
		for k, v := range files {
			f[k] = bytes.Clone(v)
		}
		change(f)
		return rewriteTarball(t, f)
	}
	required := Verification{Key: public, Required: true}
	tests := []struct {
		name    string
		path    string
		v       *Verification
		wantErr string // empty: loads
	}{
		{"signed, verified", signed, &required, ""},
		{"signed, signature optional", signed, &Verification{Key: public}, ""},
		{"signed, not verified", signed, nil, ""},
		{"unsigned, signature optional", unsigned, &Verification{Key: public}, ""},
		{"unsigned, required", unsigned, &required,
			unsigned + ": unsigned bundle refused: signatures are required (policies.require_signature) and the bundle has no .signatures.json"},
		{"a rule changed", tamper(func(f map[string][]byte) {
			f[rule] = bytes.Replace(f[rule], []byte("package"), []byte("# harmless?\npackage"), 1)
		}), &required, "/risk/rules/big_amount.rego: tampered bundle refused: the file does not match its hash in the bundle signature (changed after signing)"},
		{"data changed", tamper(func(f map[string][]byte) {
			f["risk/lists/data.json"] = []byte(`{"blocked_countries": []}`)
		}), &required, "/risk/lists/data.json: tampered bundle refused: the file does not match its hash"},
		{"schema changed", tamper(func(f map[string][]byte) {
			f[SchemaFile] = append(f[SchemaFile], '\n')
		}), &required, "/schema.yaml: tampered bundle refused"},
		{"a rule added", tamper(func(f map[string][]byte) {
			f["risk/rules/zz.rego"] = []byte(ruleSource("zz", "", ""))
		}), &required, "/risk/rules/zz.rego: tampered bundle refused: the file is not in the bundle signature (added after signing)"},
		{"a rule removed", tamper(func(f map[string][]byte) { delete(f, rule) }), &required,
			"tampered bundle refused: signed file(s) missing (removed after signing): risk/rules/big_amount.rego"},
		{"revision changed", tamper(func(f map[string][]byte) {
			f[".manifest"] = []byte(`{"revision": "r2", "roots": ["risk"], "rego_version": 1}`)
		}), &required, "/.manifest: tampered bundle refused"},
		{"another key", signed, &Verification{Key: otherPublic, Required: true}, "/.signatures.json: bundle signature refused: failed to verify JWT signature"},
		{"signature required, no key", signed, &Verification{Required: true}, "no verification key is configured (policies.verification_key)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []Option
			if tt.v != nil {
				opts = append(opts, WithVerification(*tt.v))
			}
			p, err := Load(ctx, tt.path, opts...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if p.Revision != "r1" || len(p.Rules) != 5 {
					t.Errorf("revision %q, %d rules", p.Revision, len(p.Rules))
				}
				return
			}
			if err == nil {
				t.Fatal("the bundle loaded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v\nwant it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestSignedBundleHMAC(t *testing.T) {
	ctx := context.Background()
	dir := copyBundle(t, "testdata/basic")
	path, _ := buildBundle(t, dir, BuildOptions{Revision: "r1", SigningKey: "s3cret", SigningAlgorithm: "HS256"})
	if _, err := Load(ctx, path, WithVerification(Verification{Key: "s3cret", Algorithm: "HS256", Required: true})); err != nil {
		t.Fatal(err)
	}
	_, err := Load(ctx, path, WithVerification(Verification{Key: "guess", Algorithm: "HS256", Required: true}))
	if err == nil || !strings.Contains(err.Error(), "bundle signature refused") {
		t.Fatalf("error = %v, want the signature refused", err)
	}
}

// A signed directory (an unpacked bundle) is verified like an archive.
func TestSignedDirectory(t *testing.T) {
	ctx := context.Background()
	private, public := rsaKeys(t)
	path, _ := buildBundle(t, copyBundle(t, "testdata/basic"), BuildOptions{Revision: "r1", SigningKey: private})
	dir := t.TempDir()
	for name, data := range readTarball(t, path) {
		writeFile(t, filepath.Join(dir, filepath.FromSlash(name)), string(data))
	}
	v := WithVerification(Verification{Key: public, Required: true})
	if _, err := Load(ctx, dir, v); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "risk/config/data.json"), `{}`)
	if _, err := Load(ctx, dir, v); err == nil || !strings.Contains(err.Error(), "tampered bundle refused") {
		t.Fatalf("error = %v, want the tampered directory refused", err)
	}
}

// A tampered bundle arriving by reload is refused; the verified one keeps serving.
func TestReloadRefusesTamperedBundle(t *testing.T) {
	ctx := context.Background()
	private, public := rsaKeys(t)
	signed, _ := buildBundle(t, copyBundle(t, "testdata/basic"), BuildOptions{Revision: "r1", SigningKey: private})
	e, err := NewEngine(ctx, signed, nil, WithVerification(Verification{Key: public, Required: true}))
	if err != nil {
		t.Fatal(err)
	}
	files := readTarball(t, signed)
	files["risk/lists/data.json"] = []byte(`{"blocked_countries": []}`)
	tampered, err := os.ReadFile(rewriteTarball(t, files))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(signed, tampered, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(ctx); err == nil || !strings.Contains(err.Error(), "risk/lists/data.json: tampered bundle refused") {
		t.Fatalf("reload error = %v, want the tampered file named", err)
	}
	if rev := e.Current().Revision; rev != "r1" {
		t.Errorf("serving %q after a refused reload, want r1", rev)
	}
}
