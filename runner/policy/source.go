package policy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/loader/filter"
	"go.yaml.in/yaml/v3"
)

// Bundle files that are not OPA's but Vigil's, read from the bundle root and
// handed over as bytes in Policy.Files.
const (
	SchemaFile   = "schema.yaml"
	FeaturesFile = "features.yaml"
	ModelsDir    = "models"

	// SignaturesFile is OPA's bundle signature: a JWT listing every file's hash.
	SignaturesFile = ".signatures.json"
)

// source is a bundle as read: OPA's view of it plus every file that was
// loaded, by bundle-relative slash path, for the revision hash.
type source struct {
	bundle bundle.Bundle
	files  map[string][]byte
}

// readBundle reads a bundle directory or .tar.gz file. Rego unit tests
// (*_test.rego) are left out; schema.yaml and features.yaml are kept aside.
// With a verification, the bundle's signature is checked against every file
// before anything is parsed.
func readBundle(root string, v *Verification) (*source, Errors) {
	info, err := os.Stat(root)
	if err != nil {
		return nil, Errors{{File: root, Msg: errMsg(err)}}
	}
	var loader bundle.DirectoryLoader
	switch {
	case info.IsDir():
		loader = bundle.NewDirectoryLoader(root).WithFilter(skipHiddenDirs)
	case strings.HasSuffix(root, ".tar.gz") || strings.HasSuffix(root, ".tgz"):
		f, err := os.Open(root)
		if err != nil {
			return nil, Errors{{File: root, Msg: errMsg(err)}}
		}
		defer f.Close()
		loader = bundle.NewTarballLoaderWithBaseURL(f, root)
	default:
		return nil, Errors{{File: root, Msg: "not a bundle: want a directory or a .tar.gz file"}}
	}

	c := &capture{inner: loader, files: map[string][]byte{}}
	if err := c.preload(); err != nil {
		if c.err != nil {
			return nil, Errors{c.err}
		}
		return nil, Errors{{File: root, Msg: errMsg(err)}}
	}
	if err := verifyBundle(root, c.files, c.signatures, v); err != nil {
		return nil, Errors{err}
	}
	b, err := bundle.NewCustomReader(c).
		WithRegoVersion(ast.RegoV1).
		WithProcessAnnotations(true).
		WithSkipBundleVerification(true).
		WithBaseDir(root). // module files, and so every location, read as root/relative/path.rego
		Read()
	if err != nil {
		// The reader stops at the first file it cannot use; look at them
		// all to report every problem, each at its line.
		if errs := checkManifest(root, c.files); len(errs) > 0 {
			return nil, errs
		}
		if errs := append(checkData(root, c.files), parseAll(root, c.files)...); len(errs) > 0 {
			return nil, errs
		}
		return nil, fromOPA(err, root)
	}
	if errs := checkManifest(root, c.files); len(errs) > 0 {
		return nil, errs
	}
	return &source{bundle: b, files: c.files}, nil
}

// checkManifest refuses a manifest that asks for another Rego version.
func checkManifest(root string, files map[string][]byte) Errors {
	data, ok := files[bundle.ManifestExt]
	if !ok {
		return nil
	}
	file := filepath.Join(root, bundle.ManifestExt)
	var m struct {
		RegoVersion *int `json:"rego_version"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return Errors{jsonError(file, data, err)}
	}
	if m.RegoVersion != nil && *m.RegoVersion != 1 {
		return Errors{{File: file, Msg: fmt.Sprintf("rego_version %d: Vigil bundles are Rego v1", *m.RegoVersion)}}
	}
	return nil
}

// checkData reports every data document that does not parse.
func checkData(root string, files map[string][]byte) Errors {
	var errs Errors
	for _, name := range slices.Sorted(maps.Keys(files)) {
		file := filepath.Join(root, filepath.FromSlash(name))
		var v any
		switch base := path.Base(name); {
		case base == "data.json":
			if err := json.Unmarshal(files[name], &v); err != nil {
				errs = append(errs, jsonError(file, files[name], err))
			}
		case bundle.IsYAMLDataFile(base):
			if err := yaml.Unmarshal(files[name], &v); err != nil {
				errs = append(errs, yamlError(file, err))
			}
		}
	}
	return errs
}

func jsonError(file string, data []byte, err error) *Error {
	e := &Error{File: file, Msg: "invalid JSON: " + err.Error()}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		e.Line = 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
	}
	return e
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

func yamlError(file string, err error) *Error {
	msg := err.Error()
	e := &Error{File: file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = "invalid YAML: " + msg[len(m[0]):]
	}
	return e
}

// parseAll parses every captured module and returns all syntax errors.
func parseAll(root string, files map[string][]byte) Errors {
	var errs Errors
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if !strings.HasSuffix(name, bundle.RegoExt) {
			continue
		}
		file := filepath.Join(root, filepath.FromSlash(name))
		_, err := ast.ParseModuleWithOpts(file, string(files[name]), ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true})
		if err != nil {
			errs = append(errs, fromOPA(err, file)...)
		}
	}
	return errs
}

// capture wraps OPA's directory or tarball loader: it reads every file the
// bundle reader would use once, up front (so that a signature can be checked
// before anything is parsed), keeps a copy, drops Rego unit tests, keeps
// Vigil's spec files out of OPA's way and the signatures file aside.
type capture struct {
	inner      bundle.DirectoryLoader
	files      map[string][]byte
	signatures []byte // .signatures.json at the root; nil when absent
	queue      []*bundle.Descriptor
	err        *Error
}

const maxFileBytes = bundle.DefaultSizeLimitBytes

// preload drains the inner loader.
func (c *capture) preload() error {
	for {
		d, err := c.inner.NextFile()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(filepath.ToSlash(d.Path()), "/")
		kind := classify(rel)
		if kind == skipFile {
			_ = d.Close()
			continue
		}
		var buf bytes.Buffer
		n, err := d.Read(&buf, maxFileBytes+1)
		_ = d.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			c.err = &Error{File: d.URL(), Msg: errMsg(err)}
			return err
		}
		if n > maxFileBytes {
			c.err = &Error{File: d.URL(), Msg: fmt.Sprintf("larger than %d bytes", maxFileBytes)}
			return errors.New(c.err.Msg)
		}
		if kind == signaturesFile {
			c.signatures = buf.Bytes()
			continue
		}
		c.files[rel] = buf.Bytes()
		if kind == specFile {
			continue
		}
		c.queue = append(c.queue, bundle.NewDescriptor(d.URL(), d.Path(), bytes.NewBuffer(buf.Bytes())))
	}
}

func (c *capture) NextFile() (*bundle.Descriptor, error) {
	if len(c.queue) == 0 {
		return nil, io.EOF
	}
	d := c.queue[0]
	c.queue = c.queue[1:]
	return d, nil
}

func (c *capture) WithFilter(f filter.LoaderFilter) bundle.DirectoryLoader {
	c.inner = c.inner.WithFilter(f)
	return c
}

func (c *capture) WithPathFormat(p bundle.PathFormat) bundle.DirectoryLoader {
	c.inner = c.inner.WithPathFormat(p)
	return c
}

func (c *capture) WithSizeLimitBytes(n int64) bundle.DirectoryLoader {
	c.inner = c.inner.WithSizeLimitBytes(n)
	return c
}

func (c *capture) WithFollowSymlinks(yes bool) bundle.DirectoryLoader {
	c.inner = c.inner.WithFollowSymlinks(yes)
	return c
}

type fileKind int

const (
	skipFile       fileKind = iota
	opaFile                 // a module, a data document or the manifest
	specFile                // schema.yaml or features.yaml at the root
	signaturesFile          // .signatures.json at the root
)

func classify(rel string) fileKind {
	base := path.Base(rel)
	switch {
	case rel == SignaturesFile:
		return signaturesFile
	case strings.HasSuffix(base, "_test.rego"):
		return skipFile
	case strings.HasSuffix(base, bundle.RegoExt), base == "data.json", bundle.IsYAMLDataFile(base), rel == bundle.ManifestExt:
		return opaFile
	case rel == SchemaFile, rel == FeaturesFile, strings.HasPrefix(rel, ModelsDir+"/"):
		return specFile
	}
	return skipFile
}

// skipHiddenDirs keeps .git and other dot directories out of the walk.
func skipHiddenDirs(abspath string, info fs.FileInfo, _ int) bool {
	name := info.Name()
	return info.IsDir() && len(name) > 1 && name[0] == '.' && name != ".."
}

// digest hashes the loaded files, path and content, in path order.
func digest(files map[string][]byte) string {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(files)) {
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(files[name]))
		h.Write(files[name])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// revision names what was loaded: the manifest's revision when set; else,
// for a directory in a git work tree, the commit (plus -dirty when the
// directory has changes); else a hash of the loaded files.
func revision(ctx context.Context, root string, manifest string, sum string) string {
	if manifest != "" {
		return manifest
	}
	if info, err := os.Stat(root); err == nil && info.IsDir() {
		if rev := gitRevision(ctx, root); rev != "" {
			return rev
		}
	}
	return "sha256:" + sum[:12]
}

func gitRevision(ctx context.Context, dir string) string {
	head, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "" // no git, not a work tree, or no commit yet
	}
	rev := strings.TrimSpace(string(head))
	status, err := exec.CommandContext(ctx, "git", "-C", dir, "status", "--porcelain", "--", ".").Output()
	if err != nil {
		return ""
	}
	if len(bytes.TrimSpace(status)) > 0 {
		rev += "-dirty"
	}
	return rev
}

func errMsg(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error() // the path is already in Error.File
	}
	return err.Error()
}
