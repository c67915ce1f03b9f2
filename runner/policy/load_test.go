package policy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-risk/vigil/runner/decision"
)

func TestLoadDirectory(t *testing.T) {
	dir := copyBundle(t, "testdata/basic")
	p, err := Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range p.Rules {
		names = append(names, r.Name)
	}
	// big_amount_test.rego is a Rego unit test: its package has no METADATA
	// and would have failed the load had it been loaded.
	if want := []string{"big_amount", "blocked_country", "card_testing", "fraud_score", "new_device"}; !slices.Equal(names, want) {
		t.Fatalf("rules = %v, want %v", names, want)
	}
	r, ok := p.Rule("big_amount")
	if !ok {
		t.Fatal("Rule(big_amount) not found")
	}
	want := Rule{
		Name: "big_amount", Package: "risk.rules.big_amount", Title: "Large amount",
		Description: "One payment far above the usual size for its currency.",
		Severity:    decision.Medium, Action: decision.Review, Mode: decision.Enforce,
		Entity: "customer_id", Owner: "payments-risk", Tags: []string{"amount"},
		Runbook: "https://wiki.example.com/risk/big-amount",
		File:    filepath.Join(dir, "risk/rules/big_amount.rego"), Line: 1,
	}
	if !rulesEqual(r, want) {
		t.Errorf("Rule(big_amount) =\n%+v\nwant\n%+v", r, want)
	}
	if r, _ := p.Rule("new_device"); r.Mode != decision.Shadow || r.Tags != nil || r.Runbook != "" {
		t.Errorf("new_device = %+v", r)
	}
	if _, ok := p.Rule("big_amount_test"); ok {
		t.Error("the _test.rego package was loaded")
	}
	for _, name := range []string{SchemaFile, FeaturesFile} {
		disk, _ := os.ReadFile(filepath.Join(dir, name))
		if !bytes.Equal(p.Files[name], disk) {
			t.Errorf("Files[%s] = %q, want the file's bytes", name, p.Files[name])
		}
	}
	if p.Schema == nil || !p.Schema.HasField("card_country") {
		t.Errorf("Schema = %+v, want the bundle's schema.yaml", p.Schema)
	}
	if p.Path != dir || p.LoadedAt.IsZero() {
		t.Errorf("Path, LoadedAt = %q, %v", p.Path, p.LoadedAt)
	}
}

func rulesEqual(a, b Rule) bool {
	return a.Name == b.Name && a.Package == b.Package && a.Title == b.Title && a.Description == b.Description &&
		a.Severity == b.Severity && a.Action == b.Action && a.Mode == b.Mode && a.Entity == b.Entity &&
		a.Owner == b.Owner && slices.Equal(a.Tags, b.Tags) && a.Runbook == b.Runbook && a.File == b.File && a.Line == b.Line
}

// tarball packs a bundle directory as OPA's build does: gzip'd tar, paths
// rooted at "/", plus extra files such as a .manifest.
func tarball(t *testing.T, dir string, extra map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	add := func(name string, data []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: "/" + name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		add(filepath.ToSlash(rel), data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range extra {
		add(name, []byte(content))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bundle.tar.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadTarball(t *testing.T) {
	ctx := context.Background()
	path := tarball(t, "testdata/basic", map[string]string{".manifest": `{"revision": "v42", "roots": ["risk"]}`})
	p, err := Load(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if p.Revision != "v42" {
		t.Errorf("revision = %q, want the manifest's v42", p.Revision)
	}
	if len(p.Rules) != 5 || p.Files[SchemaFile] == nil || p.Files[FeaturesFile] == nil {
		t.Errorf("rules = %d, files = %v", len(p.Rules), len(p.Files))
	}
	if r, _ := p.Rule("card_testing"); r.File != filepath.Join(path, "risk/rules/card_testing.rego") || r.Line != 1 {
		t.Errorf("card_testing at %s:%d", r.File, r.Line)
	}
	d, err := p.Decide(ctx, &Input{Record: payment(map[string]any{"card_country": "IR"})})
	if err != nil {
		t.Fatal(err)
	}
	if d.Action != decision.Block || d.PolicyRevision != "v42" {
		t.Errorf("decision = %s under %q, want block under v42", d.Action, d.PolicyRevision)
	}
}

func TestLoadTarballErrors(t *testing.T) {
	dir := writeBundle(t, map[string]string{"risk/rules/a.rego": ruleSource("a", "", "hit := {\"reason\": x}\n")})
	path := tarball(t, dir, nil)
	_, err := Load(context.Background(), path)
	want := filepath.Join(path, "risk/rules/a.rego") + ":11: rego_unsafe_var_error: var x is unsafe"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %s", err, want)
	}
}

func TestRevision(t *testing.T) {
	ctx := context.Background()
	t.Run("manifest", func(t *testing.T) {
		dir := copyBundle(t, "testdata/basic")
		writeFile(t, filepath.Join(dir, ".manifest"), `{"revision": "2026.11.3"}`)
		p, err := Load(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		if p.Revision != "2026.11.3" {
			t.Errorf("revision = %q", p.Revision)
		}
	})
	t.Run("content hash", func(t *testing.T) {
		dir := copyBundle(t, "testdata/basic")
		revs := map[string]bool{}
		for range 2 {
			p, err := Load(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			revs[p.Revision] = true
		}
		other := copyBundle(t, "testdata/basic") // same content elsewhere: same revision
		p, err := Load(ctx, other)
		if err != nil {
			t.Fatal(err)
		}
		revs[p.Revision] = true
		if len(revs) != 1 {
			t.Fatalf("revisions = %v, want one", revs)
		}
		if !regexp.MustCompile(`^sha256:[0-9a-f]{12}$`).MatchString(p.Revision) {
			t.Errorf("revision = %q, want sha256: and 12 hex digits", p.Revision)
		}
		// Rego unit tests are not loaded, so they do not change the revision;
		// a data file does.
		writeFile(t, filepath.Join(other, "risk/rules/big_amount_test.rego"), "package risk.rules.big_amount_test\n")
		if p2, _ := Load(ctx, other); p2 == nil || p2.Revision != p.Revision {
			t.Errorf("editing a _test.rego changed the revision")
		}
		writeFile(t, filepath.Join(other, "risk/lists/data.json"), `{"blocked_countries": ["KP"]}`)
		if p3, _ := Load(ctx, other); p3 == nil || p3.Revision == p.Revision {
			t.Errorf("editing data.json kept the revision %q", p.Revision)
		}
	})
	t.Run("git", func(t *testing.T) {
		if _, err := exec.LookPath("git"); err != nil {
			t.Skip("no git")
		}
		repo := t.TempDir()
		git := func(args ...string) string {
			t.Helper()
			cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
			cmd.Dir = repo
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("git %v: %v\n%s", args, err, out)
			}
			return strings.TrimSpace(string(out))
		}
		git("init", "-q")
		dir := filepath.Join(repo, "policies")
		if err := os.Rename(copyBundle(t, "testdata/basic"), dir); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(repo, "README.md"), "outside the bundle\n")
		git("add", ".")
		git("commit", "-q", "-m", "rules")
		head := git("rev-parse", "--short=12", "HEAD")

		p, err := Load(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		if p.Revision != head {
			t.Errorf("clean revision = %q, want %q", p.Revision, head)
		}
		writeFile(t, filepath.Join(repo, "README.md"), "changed outside the bundle\n")
		if p, _ := Load(ctx, dir); p == nil || p.Revision != head {
			t.Errorf("a change outside the bundle made it %v", p)
		}
		writeFile(t, filepath.Join(dir, "risk/lists/data.json"), `{"blocked_countries": []}`)
		if p, _ := Load(ctx, dir); p == nil || p.Revision != head+"-dirty" {
			t.Errorf("revision after an edit = %v, want %s-dirty", p, head)
		}
	})
}

// TestLoadErrors checks that each kind of broken bundle is refused with a
// message at the file and line to fix.
func TestLoadErrors(t *testing.T) {
	meta := func(lines ...string) string {
		return "# METADATA\n" + strings.Join(lines, "\n") + "\npackage risk.rules.x\n\nhit := {\"reason\": \"r\"} if input.record.type == \"payment\"\n"
	}
	full := func(custom ...string) string {
		return meta(append([]string{"# title: X", "# custom:"}, custom...)...)
	}
	ok := []string{"#   severity: high", "#   action: block", "#   mode: enforce", "#   entity: card_id", "#   owner: risk"}
	with := func(replace map[int]string, add ...string) string {
		c := slices.Clone(ok)
		for i, s := range replace {
			c[i] = s
		}
		return full(append(c, add...)...)
	}
	schema := "version: 1\nfields:\n  id: string\n  ts: timestamp\n  type: string\n  card_id: string\n"
	tests := []struct {
		name  string
		files map[string]string
		want  []string // "file:line: fragment", file relative to the bundle
	}{
		{"bad feature spec", map[string]string{"schema.yaml": schema, "risk/rules/x.rego": full(ok...),
			"features.yaml": "version: 1\nfeatures:\n  - name: n\n    entity: card_id\n    aggregate: counts\n    window: 1m\n"},
			[]string{`features.yaml:5: `}},
		{"rule reading an undefined feature", map[string]string{"schema.yaml": schema,
			"risk/rules/x.rego": strings.Replace(full(ok...), `input.record.type == "payment"`, `input.features.nope > 1`, 1)},
			[]string{`risk/rules/x.rego:11: input.features.nope is not defined by the bundle (features.yaml)`}},
		{"rule reading an undefined score", map[string]string{"schema.yaml": schema,
			"risk/rules/x.rego": strings.Replace(full(ok...), `input.record.type == "payment"`, `input.scores.lr > 0.5`, 1)},
			[]string{`risk/rules/x.rego:11: input.scores.lr is not defined by the bundle (models/)`}},
		{"model reading an unknown feature", map[string]string{"schema.yaml": schema, "risk/rules/x.rego": full(ok...),
			"models/m.yaml": "name: m\ntype: logistic_regression\nintercept: 0\ninputs:\n  - {from: features.nope, missing: 0, coef: 1}\n"},
			[]string{`models/m.yaml:5: `}},
		{"missing metadata", map[string]string{"risk/rules/x.rego": "package risk.rules.x\n\nhit := {\"reason\": \"r\"}\n"},
			[]string{"risk/rules/x.rego:1: rule x: package risk.rules.x has no METADATA annotation"}},
		{"metadata on the rule instead of the package", map[string]string{"risk/rules/x.rego": "package risk.rules.x\n\n" + strings.Replace(full(ok...), "package risk.rules.x\n\n", "", 1)},
			[]string{"risk/rules/x.rego:1: rule x: package risk.rules.x has no METADATA annotation; the METADATA at"}},
		{"missing title", map[string]string{"risk/rules/x.rego": meta(append([]string{"# custom:"}, ok...)...)},
			[]string{"risk/rules/x.rego:1: rule x: title is required"}},
		{"bad severity", map[string]string{"risk/rules/x.rego": with(map[int]string{0: "#   severity: hihg"})},
			[]string{`risk/rules/x.rego:4: rule x: custom.severity "hihg": want low, medium, high or critical`}},
		{"bad mode", map[string]string{"risk/rules/x.rego": with(map[int]string{2: "#   mode: dry-run"})},
			[]string{`risk/rules/x.rego:6: rule x: custom.mode "dry-run": want enforce or shadow`}},
		{"bad action", map[string]string{"risk/rules/x.rego": with(map[int]string{1: "#   action: deny"})},
			[]string{`risk/rules/x.rego:5: rule x: custom.action "deny": want allow, review or block`}},
		{"missing severity", map[string]string{"risk/rules/x.rego": full(ok[1:]...)},
			[]string{"risk/rules/x.rego:3: rule x: custom.severity is required"}},
		{"unknown custom key", map[string]string{"risk/rules/x.rego": with(nil, "#   sevrity: low")},
			[]string{"risk/rules/x.rego:9: rule x: custom.sevrity: unknown key"}},
		{"entity not a schema field", map[string]string{"schema.yaml": schema, "risk/rules/x.rego": with(map[int]string{3: "#   entity: card_number"})},
			[]string{`risk/rules/x.rego:7: rule x: custom.entity "card_number" is not a field of the record schema`}},
		{"runbook not a URL", map[string]string{"risk/rules/x.rego": with(nil, "#   runbook: wiki/card-testing")},
			[]string{`risk/rules/x.rego:9: rule x: custom.runbook wiki/card-testing: want an absolute http(s) URL`}},
		{"tags not a list", map[string]string{"risk/rules/x.rego": with(nil, "#   tags: card")},
			[]string{"risk/rules/x.rego:9: rule x: custom.tags: want a list of strings"}},
		{"metadata YAML error", map[string]string{"risk/rules/x.rego": meta("# title: [x")},
			[]string{"risk/rules/x.rego:2: rego_parse_error: yaml: line 1: did not find expected ',' or ']'"}},
		{"two METADATA for one package", map[string]string{"risk/rules/x.rego": full(ok...), "risk/rules/x2.rego": strings.Replace(full(ok...), "hit := ", "other := ", 1)},
			[]string{"risk/rules/x2.rego:1: rego_type_error: package annotation redeclared"}},
		{"hit is a boolean", map[string]string{"risk/rules/x.rego": strings.Replace(full(ok...), `hit := {"reason": "r"} if`, "hit if", 1)},
			[]string{"risk/rules/x.rego:11: rule x: hit must be an object holding a reason, not true"}},
		{"hit is a set", map[string]string{"risk/rules/x.rego": strings.Replace(full(ok...), `hit := {"reason": "r"} if`, `hit contains "r" if`, 1)},
			[]string{"risk/rules/x.rego:11: rule x: hit is one object"}},
		{"hit has no reason", map[string]string{"risk/rules/x.rego": strings.Replace(full(ok...), `"reason"`, `"why"`, 1)},
			[]string{`risk/rules/x.rego:11: rule x: the hit object has no "reason"`}},
		{"no hit rule", map[string]string{"risk/rules/x.rego": strings.Replace(full(ok...), "hit := ", "fires := ", 1)},
			[]string{"risk/rules/x.rego:9: rule x: no `hit` rule"}},
		{"nested rule package", map[string]string{"risk/rules/x.rego": strings.Replace(full(ok...), "risk.rules.x", "risk.rules.card.x", 1)},
			[]string{"risk/rules/x.rego:9: package risk.rules.card.x: a rule package is risk.rules.<name>"}},
		{"no rules at all", map[string]string{"risk/lib/x.rego": "package risk.lib.x\n\nlimit := 1\n"},
			[]string{": the bundle has no rules"}},
		{"Rego syntax error", map[string]string{"risk/rules/x.rego": full(ok...) + "\nbroken := {\n"},
			[]string{"risk/rules/x.rego:14: rego_parse_error: unexpected eof token"}},
		{"strict mode: unused var", map[string]string{"risk/rules/x.rego": strings.Replace(full(ok...), `if input.record.type == "payment"`, "if {\n\tunused := 1\n\tinput.record.type == \"payment\"\n}", 1)},
			[]string{"risk/rules/x.rego:12: rego_compile_error: assigned var unused unused"}},
		{"strict mode: unused import", map[string]string{"risk/rules/x.rego": strings.Replace(full(ok...), "package risk.rules.x\n", "package risk.rules.x\n\nimport data.risk.lists\n", 1)},
			[]string{"risk/rules/x.rego:11: rego_compile_error: import data.risk.lists unused"}},
		{"bad data.json", map[string]string{"risk/rules/x.rego": full(ok...), "risk/lists/data.json": "{\n  \"a\": [1, 2,]\n}\n"},
			[]string{"risk/lists/data.json:2: invalid JSON: invalid character ']'"}},
		{"bad schema.yaml", map[string]string{"risk/rules/x.rego": full(ok...), "schema.yaml": "version: 1\nfields:\n  id: {type: strng}\n"},
			[]string{`schema.yaml:3: field "id": type "strng"`}},
		{"Rego v0 manifest", map[string]string{"risk/rules/x.rego": full(ok...), ".manifest": `{"rego_version": 0}`},
			[]string{".manifest: rego_version 0: Vigil bundles are Rego v1"}},
		{"every problem at once", map[string]string{
			"risk/rules/a.rego": strings.Replace(with(map[int]string{0: "#   severity: hihg"}), "risk.rules.x", "risk.rules.a", 1),
			"risk/rules/b.rego": strings.Replace(with(map[int]string{2: "#   mode: dry"}, "#   colour: red"), "risk.rules.x", "risk.rules.b", 1),
			"risk/rules/c.rego": strings.Replace(full(ok...), "risk.rules.x", "risk.rules.c", 1) + "\nbad := y\n",
		}, []string{
			`risk/rules/a.rego:4: rule a: custom.severity "hihg"`,
			`risk/rules/b.rego:6: rule b: custom.mode "dry"`,
			"risk/rules/b.rego:9: rule b: custom.colour: unknown key",
			"risk/rules/c.rego:13: rego_unsafe_var_error: var y is unsafe",
		}},
		{"every syntax error at once", map[string]string{
			"risk/rules/a.rego": strings.Replace(full(ok...), "risk.rules.x", "risk.rules.a", 1) + "\nbad := \n",
			"risk/rules/b.rego": strings.Replace(full(ok...), "risk.rules.x", "risk.rules.b", 1) + "\nworse := {\n",
		}, []string{"risk/rules/a.rego:14: rego_parse_error", "risk/rules/b.rego:14: rego_parse_error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeBundle(t, tt.files)
			p, err := Load(context.Background(), dir)
			if err == nil {
				t.Fatalf("loaded %d rules, want an error", len(p.Rules))
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T is not Errors: %v", err, err)
			}
			msg := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
			msg = strings.ReplaceAll(msg, dir, "")
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q:\n%s", w, msg)
				}
			}
		})
	}
}

func TestLoadNotABundle(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "rules.zip")
	writeFile(t, file, "zip")
	for _, path := range []string{filepath.Join(dir, "missing"), file} {
		_, err := Load(context.Background(), path)
		var errs Errors
		if !errors.As(err, &errs) || errs[0].File != path {
			t.Errorf("Load(%s) = %v, want an error naming it", path, err)
		}
	}
}

func TestLoadWithSchemaFields(t *testing.T) {
	dir := writeBundle(t, map[string]string{"risk/rules/x.rego": ruleSource("x", "", "")})
	_, err := Load(context.Background(), dir, WithSchemaFields(func(name string) bool { return name == "pan" }))
	if err == nil || !strings.Contains(err.Error(), `custom.entity "card_id" is not a field of the record schema`) {
		t.Fatalf("error = %v", err)
	}
	if _, err := Load(context.Background(), dir, WithSchemaFields(func(name string) bool { return name == "card_id" })); err != nil {
		t.Fatal(err)
	}
}
