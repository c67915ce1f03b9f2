// Package model computes the model scores rules read as input.scores.<name>
// (DESIGN §3.2). Models ship in the policy bundle under models/, one YAML file
// each, reviewed like rules: a logistic regression written out in the YAML,
// or gradient-boosted trees in LightGBM's text format beside it. Both read
// their inputs from the record, the computed features and the event time,
// through the transforms the YAML declares.
//
// Load validates everything once; Score is the per-record path: no parsing,
// no locks, and no allocation but the result map.
package model

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"time"

	"github.com/vigil-risk/vigil/runner/record"
)

// LoadOptions tell Load what the inputs may refer to.
type LoadOptions struct {
	// Dir is the directory of fsys holding the model files ("" = the root).
	// Error messages name files by their path in fsys, so handing over the
	// whole bundle with Dir "models" yields "models/fraud_lr.yaml:7: ...".
	Dir string
	// Schema, when set, checks every record.<field> input: the field must be
	// in the schema (by its name, not an alias) and be a number, an integer
	// or a boolean.
	Schema *record.Schema
	// KnownFeature, when set, checks every features.<name> input.
	KnownFeature func(name string) bool
}

// Set is the models of one bundle. It is immutable and safe for concurrent
// use; the zero of *Set (nil) has no models.
type Set struct {
	models   []*model // sorted by name
	usesTime bool     // some input reads time.*
}

type model struct {
	name string
	file string
	scorer
}

// scorer computes one model's score from the record's environment.
type scorer interface {
	score(e env) float64
}

// env is what inputs read. It is passed by value so that it never escapes
// to the heap through the scorer interface.
type env struct {
	fields, features map[string]any
	hour, weekday    int // UTC; -1 when the record has no event time
}

// Load reads every *.yaml (and *.yml) file in opts.Dir of fsys as a model
// and validates it, with the LightGBM files they name. Every problem found is
// returned at once, joined, each an *Error naming file:line. A directory
// that does not exist holds no models.
func Load(fsys fs.FS, opts LoadOptions) (*Set, error) {
	dir := cmp.Or(opts.Dir, ".")
	var files []string
	for _, pattern := range []string{"*.yaml", "*.yml"} {
		m, err := fs.Glob(fsys, path.Join(dir, pattern))
		if err != nil {
			return nil, fmt.Errorf("models in %s: %w", dir, err)
		}
		files = append(files, m...)
	}
	slices.Sort(files)

	l := &loader{fsys: fsys, opts: opts}
	s := &Set{}
	byName := map[string]*model{}
	for _, file := range files {
		m, nameLine := l.loadFile(file)
		if m == nil {
			continue
		}
		if other, dup := byName[m.name]; dup {
			l.errorf(file, nameLine, "name %q is already used by %s", m.name, other.file)
			continue
		}
		byName[m.name] = m
		s.models = append(s.models, m)
	}
	if len(l.errs) > 0 {
		slices.SortStableFunc(l.errs, func(a, b *Error) int {
			return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
		})
		errs := make([]error, len(l.errs))
		for i, e := range l.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	slices.SortFunc(s.models, func(a, b *model) int { return cmp.Compare(a.name, b.name) })
	s.usesTime = l.usesTime
	return s, nil
}

// Names lists the models, sorted: the keys of input.scores.
func (s *Set) Names() []string {
	if s == nil {
		return nil
	}
	names := make([]string, len(s.models))
	for i, m := range s.models {
		names[i] = m.name
	}
	return names
}

// Len is the number of models.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.models)
}

// Score computes every model for one record: fields are the normalised
// record fields, t its event time, features the computed feature values.
// It returns a fresh map, model name → score (nil when there are no models).
// Scores are finite: an input that is absent, not a number, or not finite
// after its transforms takes its `missing` value.
func (s *Set) Score(fields map[string]any, t time.Time, features map[string]any) map[string]float64 {
	if s == nil || len(s.models) == 0 {
		return nil
	}
	e := env{fields: fields, features: features, hour: -1, weekday: -1}
	if s.usesTime && !t.IsZero() {
		t = t.UTC()
		e.hour = t.Hour()
		e.weekday = (int(t.Weekday()) + 6) % 7 // Monday 0 … Sunday 6
	}
	out := make(map[string]float64, len(s.models))
	for _, m := range s.models {
		out[m.name] = m.score(e)
	}
	return out
}

// Error is one problem in a model file.
type Error struct {
	File string // path in the fs.FS given to Load
	Line int    // 1-based; 0 when the problem is the file as a whole
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}
