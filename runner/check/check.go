// Package check proves a bundle before it ships: it compiles the policies
// strictly, lints rule metadata, runs the Rego unit tests with a coverage
// gate, and replays scenario fixtures through the real pipeline. `vigil test`
// prints its report; CI formats come from the same Report.
package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/feature"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/policy"
	"github.com/vigil-risk/vigil/runner/record"
)

// Options say what to check.
type Options struct {
	Policies    string         // bundle directory
	Fixtures    string         // scenario directory; empty skips fixtures
	MinCoverage float64        // percent; the unit tests must cover at least this much
	Record      record.Options // the deployment's renames and defaults, as `vigil run` would apply them
	TestTimeout time.Duration  // per Rego test; 5s when zero
	Log         *slog.Logger
}

// Problem is one failure, pointing at a file and line when it can.
type Problem struct {
	Kind string `json:"kind"` // compile, metadata, lint, rego-test, coverage, fixture
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Msg  string `json:"message"`
}

func (p Problem) String() string {
	switch {
	case p.File != "" && p.Line > 0:
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	case p.File != "":
		return p.File + ": " + p.Msg
	}
	return p.Msg
}

// Report is everything `vigil test` found.
type Report struct {
	Policies    string
	Revision    string
	Rules       int
	ShadowRules int
	Compile     []Problem // compile and metadata errors: nothing else runs when there are any
	Lint        []Problem
	Unit        *UnitTests
	MinCoverage float64
	Fixtures    FixtureResults
}

// FixtureResults summarise the scenario replay.
type FixtureResults struct {
	Files, Records, Passed int
	Failures               []Problem
	Cases                  []Case // one per record, for JUnit
}

// Case is one test that ran — a Rego unit test or a fixture record — for
// the reports that list every test (JUnit).
type Case struct {
	Suite   string  `json:"suite"` // the Rego test package or the fixture file
	Name    string  `json:"name"`
	File    string  `json:"file,omitempty"`
	Line    int     `json:"line,omitempty"`
	Seconds float64 `json:"seconds"`
	Skipped bool    `json:"skipped,omitempty"`
	Failure string  `json:"failure,omitempty"` // empty when it passed
}

// OK reports whether everything passed.
func (r *Report) OK() bool {
	return len(r.Compile) == 0 && len(r.Lint) == 0 && r.Unit != nil &&
		len(r.Unit.Failures) == 0 && r.CoverageOK() && len(r.Fixtures.Failures) == 0
}

// CoverageOK reports whether the unit tests met the coverage gate.
func (r *Report) CoverageOK() bool { return r.Unit != nil && r.Unit.Coverage >= r.MinCoverage }

// Problems lists every failure in report order.
func (r *Report) Problems() []Problem {
	out := slices.Concat(r.Compile, r.Lint)
	if r.Unit != nil {
		out = append(out, r.Unit.Failures...)
		if !r.CoverageOK() {
			out = append(out, Problem{Kind: "coverage", Msg: fmt.Sprintf("Rego unit tests cover %.1f%% of lines, below the required %.1f%%", r.Unit.Coverage, r.MinCoverage)})
		}
	}
	return append(out, r.Fixtures.Failures...)
}

// Run checks the bundle. An error means the check itself could not run (an
// unreadable directory); failures of the policies are in the Report.
func Run(ctx context.Context, o Options) (*Report, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.TestTimeout <= 0 {
		o.TestTimeout = 5 * time.Second
	}
	if st, err := os.Stat(o.Policies); err != nil {
		return nil, fmt.Errorf("policies: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("policies: %s is not a directory", o.Policies)
	}
	rep := &Report{Policies: o.Policies, MinCoverage: o.MinCoverage}

	engine, err := policy.NewEngine(ctx, o.Policies, log)
	if err != nil {
		rep.Compile = compileProblems(err)
		return rep, nil
	}
	pol := engine.Current()
	rep.Revision = pol.Revision
	rep.Rules = len(pol.Rules)
	for _, r := range pol.Rules {
		if r.Mode == "shadow" {
			rep.ShadowRules++
		}
	}
	rep.Lint = lint(o.Policies, pol)

	if rep.Unit, err = runUnitTests(ctx, o.Policies, o.TestTimeout); err != nil {
		return nil, err
	}
	if o.Fixtures != "" {
		if err := runFixtures(ctx, engine, o, rep); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// compileProblems splits a load error into one problem per file:line.
func compileProblems(err error) []Problem {
	var errs policy.Errors
	if errors.As(err, &errs) {
		out := make([]Problem, 0, len(errs))
		for _, e := range errs {
			out = append(out, Problem{Kind: "compile", File: e.File, Line: e.Line, Msg: e.Msg})
		}
		return out
	}
	var pe *policy.Error
	if errors.As(err, &pe) {
		return []Problem{{Kind: "compile", File: pe.File, Line: pe.Line, Msg: pe.Msg}}
	}
	return []Problem{{Kind: "compile", Msg: err.Error()}}
}

// lint asks for what the compiler does not: every rule has its unit tests
// beside it.
func lint(dir string, pol *policy.Policy) []Problem {
	var out []Problem
	for _, r := range pol.Rules {
		file := r.File
		if !filepath.IsAbs(file) && !strings.HasPrefix(file, dir) {
			file = filepath.Join(dir, file)
		}
		test := strings.TrimSuffix(file, ".rego") + "_test.rego"
		if _, err := os.Stat(test); err != nil {
			out = append(out, Problem{Kind: "lint", File: r.File, Line: r.Line,
				Msg: fmt.Sprintf("rule %s has no unit tests beside it (want %s)", r.Name, filepath.Base(test))})
		}
	}
	return out
}

// runFixtures replays every scenario through a fresh pipeline (fresh state
// per file, as a scenario starts from nothing) and compares each decision.
func runFixtures(ctx context.Context, engine *policy.Engine, o Options, rep *Report) error {
	scenarios, err := LoadScenarios(o.Fixtures)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return err
		}
		rep.Fixtures.Failures = append(rep.Fixtures.Failures, Problem{Kind: "fixture", Msg: err.Error()})
		return nil
	}
	for _, s := range scenarios {
		rep.Fixtures.Files++
		// a scenario starts from empty feature state
		feats, err := feature.NewEngine(engine.Current().Features, nil, feature.Options{})
		if err != nil {
			return fmt.Errorf("fixtures: %w", err)
		}
		pipe, err := pipeline.New(engine, pipeline.Options{Env: "test", RunnerVersion: "check", Record: o.Record, Features: feats})
		if err != nil {
			return fmt.Errorf("fixtures: %w", err)
		}
		source := "fixture:" + filepath.Base(s.File)
		inCtx := map[string]any{"env": "test", "source": source}
		for k, v := range s.Context {
			inCtx[k] = v
		}
		for i, step := range s.Steps {
			rep.Fixtures.Records++
			start := time.Now()
			c := Case{Suite: s.File, Name: fmt.Sprintf("%s, record %d (%v)", s.Name, i+1, step.Record["id"]), File: s.File, Line: step.Line}
			fail := func(format string, args ...any) {
				msg := fmt.Sprintf(format, args...)
				rep.Fixtures.Failures = append(rep.Fixtures.Failures, Problem{Kind: "fixture", File: s.File, Line: step.Line,
					Msg: c.Name + ": " + msg})
				c.Failure, c.Seconds = msg, time.Since(start).Seconds()
				rep.Fixtures.Cases = append(rep.Fixtures.Cases, c)
			}
			rec, errs := pipe.Normalizer().Normalize(cloneMap(step.Record))
			if len(errs) > 0 {
				fail("the record is invalid: %s", joinErrors(errs))
				continue
			}
			d, err := pipe.DecideWithContext(ctx, rec, source, inCtx)
			if err != nil {
				fail("%v", err)
				continue
			}
			var diffs []string
			if string(d.Action) != step.Expect.Action {
				diffs = append(diffs, fmt.Sprintf("want action %s, got %s", step.Expect.Action, d.Action))
			}
			diffs = append(diffs, setDiff("hit", step.Expect.Hits, ruleNames(d.Hits))...)
			if step.Expect.ShadowHits != nil {
				diffs = append(diffs, setDiff("shadow hit", *step.Expect.ShadowHits, ruleNames(d.ShadowHits))...)
			}
			if len(diffs) > 0 {
				fail("%s", strings.Join(diffs, "; "))
				continue
			}
			rep.Fixtures.Passed++
			c.Seconds = time.Since(start).Seconds()
			rep.Fixtures.Cases = append(rep.Fixtures.Cases, c)
		}
	}
	return nil
}

func setDiff(what string, want, got []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			out = append(out, fmt.Sprintf("missing %s %s", what, w))
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			out = append(out, fmt.Sprintf("unexpected %s %s", what, g))
		}
	}
	return out
}

func joinErrors(errs []record.FieldError) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "vigil test: %s", r.Policies)
	if r.Revision != "" {
		fmt.Fprintf(w, " (revision %s)", r.Revision)
	}
	fmt.Fprintln(w)
	if len(r.Compile) > 0 {
		fmt.Fprintf(w, "  compile   FAIL: %d problem(s)\n", len(r.Compile))
	} else {
		fmt.Fprintf(w, "  compile   ok: %d rules (%d in shadow mode), strict Rego v1, metadata valid\n", r.Rules, r.ShadowRules)
	}
	if len(r.Compile) == 0 {
		status := "ok"
		if len(r.Lint) > 0 {
			status = fmt.Sprintf("FAIL: %d problem(s)", len(r.Lint))
		}
		fmt.Fprintf(w, "  lint      %s\n", status)
	}
	if u := r.Unit; u != nil {
		status := "ok"
		if len(u.Failures) > 0 || !r.CoverageOK() {
			status = "FAIL"
		}
		fmt.Fprintf(w, "  unit      %s: %d passed, %d failed, %d errors; coverage %.1f%% (required %.1f%%)\n",
			status, u.Passed, u.Failed, u.Errored, u.Coverage, r.MinCoverage)
	}
	if r.Fixtures.Files > 0 || len(r.Fixtures.Failures) > 0 {
		status := "ok"
		if len(r.Fixtures.Failures) > 0 {
			status = "FAIL"
		}
		fmt.Fprintf(w, "  fixtures  %s: %d files, %d records, %d passed\n", status, r.Fixtures.Files, r.Fixtures.Records, r.Fixtures.Passed)
	}
	if probs := r.Problems(); len(probs) > 0 {
		fmt.Fprintln(w)
		for _, p := range probs {
			fmt.Fprintf(w, "%s\n", p)
		}
		fmt.Fprintf(w, "\nFAIL: %d problem(s)\n", len(probs))
		return
	}
	fmt.Fprintln(w, "PASS")
}

func ruleNames(hits []decision.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Rule
	}
	return out
}
