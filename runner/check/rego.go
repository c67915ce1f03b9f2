package check

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// UnitTests is the outcome of the bundle's Rego unit tests.
type UnitTests struct {
	Passed, Failed, Errored, Skipped int
	Failures                         []Problem
	Coverage                         float64 // percent of Rego lines covered
	Files                            []FileCoverage
	Cases                            []Case // every test that ran, for JUnit
}

// FileCoverage is one Rego file's coverage.
type FileCoverage struct {
	File     string  `json:"file"`
	Coverage float64 `json:"coverage"`
	Covered  int     `json:"covered_lines"`
	Missed   int     `json:"not_covered_lines"`
}

// runUnitTests runs every test_ rule of the bundle with OPA's tester, the way
// `opa test --bundle --coverage` does, and collects failures with file:line.
func runUnitTests(ctx context.Context, dir string, timeout time.Duration) (*UnitTests, error) {
	b, err := loader.NewFileLoader().
		WithRegoVersion(ast.RegoV1).
		WithProcessAnnotation(true).
		WithSkipBundleVerification(true).
		AsBundle(dir)
	if err != nil {
		return nil, fmt.Errorf("loading %s for the unit tests: %w", dir, err)
	}
	bundles := map[string]*bundle.Bundle{dir: b}
	modules := map[string]*ast.Module{}
	maps.Copy(modules, b.ParsedModules(dir))

	store := inmem.NewWithOpts(inmem.OptRoundTripOnWrite(false))
	txn, err := store.NewTransaction(ctx, storage.WriteParams)
	if err != nil {
		return nil, err
	}
	defer store.Abort(ctx, txn)

	cov := cover.New()
	runner := tester.NewRunner().
		SetCompiler(ast.NewCompiler().WithPathConflictsCheck(storage.NonEmpty(ctx, store, txn)).WithEnablePrintStatements(true)).
		SetStore(store).
		CapturePrintOutput(true).
		SetCoverageQueryTracer(cov).
		SetModules(modules).
		SetBundles(bundles).
		SetTimeout(timeout)
	ch, err := runner.RunTests(ctx, txn)
	if err != nil {
		return nil, fmt.Errorf("running the Rego unit tests: %w", err)
	}
	out := &UnitTests{}
	for r := range ch {
		out.Cases = append(out.Cases, unitCase(r))
		switch {
		case r.Skip:
			out.Skipped++
		case r.Error != nil:
			out.Errored++
			out.Failures = append(out.Failures, testProblem(r, "error: "+oneLine(r.Error.Error())))
		case r.Fail:
			out.Failed++
			msg := "failed"
			if r.FailedAt != nil {
				msg = "failed at " + oneLine(r.FailedAt.String())
				if r.FailedAt.Location != nil {
					p := testProblem(r, msg)
					p.Line = r.FailedAt.Location.Row
					out.Failures = append(out.Failures, p)
					continue
				}
			}
			out.Failures = append(out.Failures, testProblem(r, msg))
		default:
			out.Passed++
		}
	}
	rep := cov.Report(modules)
	out.Coverage = rep.Coverage
	for file, fr := range rep.Files {
		if strings.HasSuffix(file, "_test.rego") {
			continue
		}
		out.Files = append(out.Files, FileCoverage{File: file, Coverage: fr.Coverage, Covered: fr.CoveredLines, Missed: fr.NotCoveredLines})
	}
	sort.Slice(out.Files, func(i, j int) bool { return out.Files[i].File < out.Files[j].File })
	return out, nil
}

func unitCase(r *tester.Result) Case {
	c := Case{Suite: r.Package, Name: r.Name, Seconds: r.Duration.Seconds(), Skipped: r.Skip}
	if r.Location != nil {
		c.File, c.Line = r.Location.File, r.Location.Row
	}
	switch {
	case r.Error != nil:
		c.Failure = "error: " + oneLine(r.Error.Error())
	case r.Fail:
		c.Failure = "failed"
		if r.FailedAt != nil {
			c.Failure = "failed at " + oneLine(r.FailedAt.String())
			if r.FailedAt.Location != nil {
				c.Line = r.FailedAt.Location.Row
			}
		}
	}
	return c
}

func testProblem(r *tester.Result, msg string) Problem {
	p := Problem{Kind: "rego-test", Msg: r.Package + "." + r.Name + ": " + msg}
	if r.Location != nil {
		p.File, p.Line = r.Location.File, r.Location.Row
	}
	if len(r.Output) > 0 {
		p.Msg += " (printed: " + oneLine(string(r.Output)) + ")"
	}
	return p
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
