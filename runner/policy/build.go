package policy

import (
	"archive/tar"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
)

// BuildOptions say how to pack a bundle.
type BuildOptions struct {
	// Revision goes into the manifest; when empty, the revision Load would
	// give the directory: its manifest's, else the git commit (with -dirty),
	// else a content hash.
	Revision string
	// Roots are the data paths the bundle owns; when empty, the manifest's,
	// else the first segment of every package and top-level data key.
	Roots []string
	// SigningKey signs the bundle when set: a PEM private key (RS*, PS*, ES*)
	// or the shared secret (HS*), the key itself.
	SigningKey       string
	SigningAlgorithm string // RS256 when empty
	KeyID            string // the token's kid; "vigil" when empty
}

// BuildResult describes the bundle written.
type BuildResult struct {
	Revision string   `json:"revision"`
	Roots    []string `json:"roots"`
	Files    []string `json:"files"` // bundle paths, .manifest and .signatures.json included
	Rules    int      `json:"rules"`
	Signed   bool     `json:"signed"`
}

// Build packs the bundle directory dir as an OPA bundle .tar.gz on w: the
// files Load reads (Rego unit tests left out), a .manifest with the revision,
// the roots and rego_version 1, and with a signing key a .signatures.json.
// The bundle is compiled first: a bundle Load would refuse is not built.
// The archive is reproducible: the same files give the same bytes.
func Build(ctx context.Context, dir string, w io.Writer, o BuildOptions) (*BuildResult, error) {
	p, err := Load(ctx, dir)
	if err != nil {
		return nil, err
	}
	src, errs := readBundle(dir, nil)
	if errs != nil {
		return nil, errs.Sorted()
	}
	m := src.bundle.Manifest
	m.Revision = cmp.Or(o.Revision, p.Revision)
	roots := o.Roots
	// the reader fills in [""] (everything) when the manifest names no roots
	if len(roots) == 0 && m.Roots != nil && !slices.Equal(*m.Roots, []string{""}) {
		roots = *m.Roots
	}
	if len(roots) == 0 {
		roots = bundleRoots(&src.bundle)
	}
	m.Roots = &roots
	v1 := 1
	m.RegoVersion = &v1
	manifest, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("bundle manifest: %w", err)
	}

	files := maps.Clone(src.files)
	files[bundle.ManifestExt] = manifest
	names := slices.Sorted(maps.Keys(files))
	res := &BuildResult{Revision: m.Revision, Roots: roots, Rules: len(p.Rules)}
	if o.SigningKey != "" {
		sig, err := sign(files, names, o)
		if err != nil {
			return nil, err
		}
		files[SignaturesFile] = sig
		names = append([]string{SignaturesFile}, names...)
		res.Signed = true
	}
	res.Files = names
	return res, writeTarball(w, files, names)
}

// bundleRoots derives the roots: the first path segment of every package
// and every top-level data key.
func bundleRoots(b *bundle.Bundle) []string {
	set := map[string]bool{}
	for _, m := range b.Modules {
		if m.Parsed == nil || len(m.Parsed.Package.Path) < 2 {
			continue
		}
		if s, ok := m.Parsed.Package.Path[1].Value.(ast.String); ok {
			set[string(s)] = true
		}
	}
	for k := range b.Data {
		set[k] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// sign makes .signatures.json over every file, as OPA's signer does.
func sign(files map[string][]byte, names []string, o BuildOptions) ([]byte, error) {
	infos := make([]bundle.FileInfo, 0, len(names))
	for _, name := range names {
		fi, err := fileHash(name, files[name])
		if err != nil {
			return nil, fmt.Errorf("signing: %w", err)
		}
		infos = append(infos, fi)
	}
	sc := bundle.NewSigningConfig(o.SigningKey, cmp.Or(o.SigningAlgorithm, DefaultSigningAlgorithm), "")
	token, err := bundle.GenerateSignedToken(infos, sc, cmp.Or(o.KeyID, keyID))
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return json.Marshal(bundle.SignaturesConfig{Signatures: []string{token}})
}

// writeTarball writes the files as OPA's bundle writer does (gzip'd tar,
// paths rooted at "/"), with fixed times and modes so that the same files
// give the same archive.
func writeTarball(w io.Writer, files map[string][]byte, names []string) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	epoch := time.Unix(0, 0).UTC()
	for _, name := range names {
		data := files[name]
		hdr := &tar.Header{Name: "/" + strings.TrimPrefix(name, "/"), Mode: 0o644, Size: int64(len(data)),
			Typeflag: tar.TypeReg, ModTime: epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
		if _, err := tw.Write(data); err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	return nil
}
