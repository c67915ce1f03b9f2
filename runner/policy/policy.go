// Package policy loads the rules-as-code bundle (Rego, Rego v1, strict),
// reads every rule's METADATA, evaluates all rules for a record with one
// prepared query and folds the hits into a decision. An Engine serves the
// current Policy and swaps in a new one atomically when the bundle changes.
package policy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing/fstest"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/vigil-risk/vigil/runner/feature"
	"github.com/vigil-risk/vigil/runner/feature/model"
	"github.com/vigil-risk/vigil/runner/record"
)

// Policy is one loaded, compiled bundle, ready to decide. It is immutable
// and safe for concurrent use.
type Policy struct {
	Path     string            // the bundle directory or .tar.gz it was loaded from
	Revision string            // see Load
	Rules    []Rule            // sorted by name
	Files    map[string][]byte // schema.yaml, features.yaml and models/*, when the bundle has them
	Schema   *record.Schema    // schema.yaml parsed, nil when the bundle has none
	Features *feature.Specs    // features.yaml parsed; nil when the bundle has none
	Models   *model.Set        // models/*.yaml loaded; nil when the bundle has none
	LoadedAt time.Time

	byName   map[string]*Rule
	fileRule map[string]string      // module file → rule name, to name a rule in eval errors
	query    rego.PreparedEvalQuery // every rule at once: the oracle, and the path without a fast path
	evalOpts []rego.EvalOption      // the per-call options that never change

	fast         *fastPath // nil: every record goes through query
	fastReason   string    // why there is no fast path
	differential bool      // Decide checks the fast path against query (WithDifferential)

	idField, typeField, timeField string
	runnerVersion                 string
	digest                        string // hash of the loaded files: tells a real change from a touch
}

// hitsQuery evaluates every rule at once: one result, an object of the
// rules that fired, name → hit.
const hitsQuery = `hits := {name: h | some name; h := data.risk.rules[name].hit}`

// Load reads a bundle from a directory or an OPA bundle .tar.gz, compiles it
// strictly (Rego v1, strict mode), validates every rule's metadata and
// prepares the query. Rego unit tests (*_test.rego) are not loaded.
//
// Every problem found is returned at once as Errors, each naming file:line.
//
// Revision is the manifest's revision when set; else, for a directory in a
// git work tree, the short commit plus "-dirty" when the directory has
// uncommitted changes; else "sha256:" and 12 hex digits of a hash of the
// loaded files.
func Load(ctx context.Context, path string, opts ...Option) (*Policy, error) {
	o := newOptions(opts)
	start := time.Now()
	src, errs := readBundle(path, o.verification)
	if errs != nil {
		return nil, errs.Sorted()
	}

	p := &Policy{
		Path:          path,
		Files:         map[string][]byte{},
		idField:       "id",
		typeField:     "type",
		timeField:     "ts",
		runnerVersion: o.runnerVersion,
		digest:        digest(src.files),
	}
	isField := o.schemaField
	for name, data := range src.files {
		if classify(name) == specFile {
			p.Files[name] = data
		}
	}
	if data, ok := p.Files[SchemaFile]; ok {
		s, err := record.ParseSchema(data, filepath.Join(path, SchemaFile))
		if err != nil {
			errs = append(errs, schemaError(err, filepath.Join(path, SchemaFile)))
		} else {
			p.Schema = s
			p.idField, p.typeField, p.timeField = s.IDField, s.TypeField, s.TimeField
			if isField == nil {
				isField = s.HasField
			}
		}
	}
	p.idField = cmp.Or(o.idField, p.idField)
	p.typeField = cmp.Or(o.typeField, p.typeField)
	p.timeField = cmp.Or(o.timeField, p.timeField)

	rules, fileRule, ruleErrs := readRules(src.bundle.Modules, isField)
	errs = append(errs, ruleErrs...)
	errs = append(errs, p.loadFeaturesAndModels(path)...)
	if len(errs) == 0 {
		errs = append(errs, p.checkInputRefs(src.bundle.Modules)...)
	}

	cp, err := prepare(ctx, &src.bundle)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		errs = append(errs, fromOPA(err, path)...)
	}
	if len(errs) > 0 {
		for _, e := range errs {
			e.File = cmp.Or(e.File, path)
		}
		return nil, errs.Sorted()
	}

	p.Rules, p.fileRule, p.query = rules, fileRule, cp.query
	p.byName = make(map[string]*Rule, len(rules))
	for i := range p.Rules {
		p.byName[p.Rules[i].Name] = &p.Rules[i]
	}
	p.evalOpts = evalOptions()
	p.differential = o.differential
	if o.noFastPath {
		p.fastReason = "the fast path is turned off (WithoutFastPath)"
	} else {
		p.fast, p.fastReason, err = newFastPath(ctx, cp, &src.bundle, p.Rules)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// The one query decides every record, as it always could.
		p.fast, p.fastReason = nil, err.Error()
		o.log.Warn("policy fast path unavailable; every record is evaluated by OPA alone", "path", path, "err", err)
	}
	p.Revision = revision(ctx, path, src.bundle.Manifest.Revision, p.digest)
	p.LoadedAt = time.Now()
	o.log.Debug("policy compiled", append([]any{"path", path, "revision", p.Revision, "rules", len(p.Rules), "took", time.Since(start)}, sortedModes(p.modes())...)...)
	return p, nil
}

// Rule returns the rule called name.
func (p *Policy) Rule(name string) (Rule, bool) {
	r, ok := p.byName[name]
	if !ok {
		return Rule{}, false
	}
	return *r, true
}

// rawValue hands back the result as OPA's own value, skipping the
// conversion to Go that Decide does not need.
func rawValue(t *ast.Term, _ *rego.EvalContext) (any, error) { return t.Value, nil }

func schemaError(err error, file string) *Error {
	var se *record.SchemaError
	if errors.As(err, &se) {
		return &Error{File: se.File, Line: se.Line, Msg: se.Msg}
	}
	return &Error{File: file, Msg: err.Error()}
}

// loadFeaturesAndModels parses features.yaml and the models, checked against
// the schema and each other, so that a bad spec is refused like a bad rule.
func (p *Policy) loadFeaturesAndModels(root string) Errors {
	var errs Errors
	if data, ok := p.Files[FeaturesFile]; ok {
		specs, err := feature.ParseSpecs(data, filepath.Join(root, FeaturesFile), p.Schema)
		if err != nil {
			errs = append(errs, featureErrors(err, filepath.Join(root, FeaturesFile))...)
		} else {
			p.Features = specs
		}
	}
	models := fstest.MapFS{}
	for name, data := range p.Files {
		if strings.HasPrefix(name, ModelsDir+"/") {
			models[name] = &fstest.MapFile{Data: data}
		}
	}
	if len(models) == 0 {
		return errs
	}
	set, err := model.Load(models, model.LoadOptions{Dir: ModelsDir, Schema: p.Schema, KnownFeature: func(name string) bool {
		if p.Features == nil {
			return false
		}
		_, ok := p.Features.Feature(name)
		return ok
	}})
	if err != nil {
		for _, e := range splitJoined(err) {
			var me *model.Error
			if errors.As(e, &me) {
				errs = append(errs, &Error{File: filepath.Join(root, filepath.FromSlash(me.File)), Line: me.Line, Msg: me.Msg})
			} else {
				errs = append(errs, &Error{File: filepath.Join(root, ModelsDir), Msg: e.Error()})
			}
		}
		return errs
	}
	p.Models = set
	return errs
}

// featureErrors charges a features file's problems to file where they name
// none.
func featureErrors(err error, file string) Errors {
	var fe Errors
	if !errors.As(err, &fe) {
		var one *Error
		if !errors.As(err, &one) {
			return Errors{{File: file, Msg: err.Error()}}
		}
		fe = Errors{one}
	}
	out := make(Errors, 0, len(fe))
	for _, e := range fe {
		out = append(out, &Error{File: cmp.Or(e.File, file), Line: e.Line, Msg: e.Msg})
	}
	return out
}

// splitJoined undoes errors.Join.
func splitJoined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// checkInputRefs refuses a rule that reads input.features.<name> or
// input.scores.<name> the bundle does not define: such a rule would silently
// never fire.
func (p *Policy) checkInputRefs(modules []bundle.ModuleFile) Errors {
	var errs Errors
	for _, m := range modules {
		if m.Parsed == nil {
			continue
		}
		ast.WalkRefs(m.Parsed, func(ref ast.Ref) bool {
			if len(ref) < 3 || !ref[0].Equal(ast.InputRootDocument) {
				return false
			}
			kind, ok1 := ref[1].Value.(ast.String)
			name, ok2 := ref[2].Value.(ast.String)
			if !ok1 || !ok2 {
				return false
			}
			var known bool
			switch kind {
			case "features":
				if p.Features != nil {
					_, known = p.Features.Feature(string(name))
				}
			case "scores":
				known = p.Models != nil && slices.Contains(p.Models.Names(), string(name))
			default:
				return false
			}
			if !known {
				e := &Error{Msg: fmt.Sprintf("input.%s.%s is not defined by the bundle (%s)", string(kind), string(name), map[ast.String]string{"features": FeaturesFile, "scores": ModelsDir + "/"}[kind])}
				if loc := ref[0].Location; loc != nil {
					e.File, e.Line = loc.File, loc.Row
				}
				errs = append(errs, e)
			}
			return false
		})
	}
	return errs
}
