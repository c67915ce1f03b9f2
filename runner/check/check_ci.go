package check

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/sethvargo/go-githubactions"
)

// Write writes the report in a format. GitHub output goes through a (its
// writer is where the text and annotations go).
func (r *Report) Write(w io.Writer, f Format, a *githubactions.Action) error {
	switch f {
	case FormatJSON:
		return r.WriteJSON(w)
	case FormatJUnit:
		return r.WriteJUnit(w)
	case FormatGitHub:
		r.WriteText(w)
		return r.WriteGitHub(a)
	}
	r.WriteText(w)
	return nil
}

// reportJSON is the JSON shape of a Report: stable names for other tools.
type reportJSON struct {
	OK          bool           `json:"ok"`
	Policies    string         `json:"policies"`
	Revision    string         `json:"revision,omitempty"`
	Rules       int            `json:"rules"`
	ShadowRules int            `json:"shadow_rules"`
	Unit        *unitJSON      `json:"unit,omitempty"`
	Fixtures    fixturesJSON   `json:"fixtures"`
	Problems    []Problem      `json:"problems"`
	Coverage    []FileCoverage `json:"coverage_by_file,omitempty"`
}

type unitJSON struct {
	Passed      int     `json:"passed"`
	Failed      int     `json:"failed"`
	Errored     int     `json:"errored"`
	Skipped     int     `json:"skipped"`
	Coverage    float64 `json:"coverage"`
	MinCoverage float64 `json:"min_coverage"`
}

type fixturesJSON struct {
	Files   int `json:"files"`
	Records int `json:"records"`
	Passed  int `json:"passed"`
}

// WriteJSON writes the report as one JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	out := reportJSON{OK: r.OK(), Policies: r.Policies, Revision: r.Revision, Rules: r.Rules, ShadowRules: r.ShadowRules,
		Fixtures: fixturesJSON{Files: r.Fixtures.Files, Records: r.Fixtures.Records, Passed: r.Fixtures.Passed},
		Problems: r.Problems()}
	if out.Problems == nil {
		out.Problems = []Problem{}
	}
	if u := r.Unit; u != nil {
		out.Unit = &unitJSON{Passed: u.Passed, Failed: u.Failed, Errored: u.Errored, Skipped: u.Skipped, Coverage: u.Coverage, MinCoverage: r.MinCoverage}
		out.Coverage = u.Files
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteJUnit writes the report as JUnit XML: a suite for the compile, lint
// and coverage gates, one for the Rego unit tests and one per fixture file.
func (r *Report) WriteJUnit(w io.Writer) error {
	s := &junitSuites{Name: "vigil test " + r.Policies}
	gate := func(name string, probs []Problem) Case {
		c := Case{Suite: "gates", Name: name}
		if len(probs) > 0 {
			msgs := make([]string, len(probs))
			for i, p := range probs {
				msgs[i] = p.String()
			}
			c.Failure = strings.Join(msgs, "\n")
		}
		return c
	}
	gates := []Case{gate("compile and metadata", r.Compile)}
	if len(r.Compile) == 0 {
		gates = append(gates, gate("lint", r.Lint))
	}
	if r.Unit != nil {
		var cov []Problem
		if !r.CoverageOK() {
			cov = []Problem{{Kind: "coverage", Msg: fmt.Sprintf("Rego unit tests cover %.1f%% of lines, below the required %.1f%%", r.Unit.Coverage, r.MinCoverage)}}
		}
		gates = append(gates, gate(fmt.Sprintf("coverage at least %.1f%%", r.MinCoverage), cov))
	}
	s.add("gates", gates)
	if r.Unit != nil {
		s.add("rego unit tests", r.Unit.Cases)
	}
	var file string
	var cases []Case
	for _, c := range r.Fixtures.Cases {
		if c.Suite != file && len(cases) > 0 {
			s.add("fixtures "+file, cases)
			cases = nil
		}
		file = c.Suite
		cases = append(cases, c)
	}
	if len(cases) > 0 {
		s.add("fixtures "+file, cases)
	}
	for _, p := range r.Fixtures.Failures {
		if p.File == "" { // a fixture directory that could not be read
			s.add("fixtures", []Case{{Suite: "fixtures", Name: "read fixtures", Failure: p.Msg}})
		}
	}
	return s.write(w)
}

// WriteGitHub turns the report into GitHub Actions output on a: an error
// annotation on the file and line of every problem, and — under Actions
// only — a job summary table and step outputs (ok, rules, shadow_rules,
// unit_passed, unit_failed, coverage, fixtures, fixtures_passed, failures,
// revision).
func (r *Report) WriteGitHub(a *githubactions.Action) error {
	probs := r.Problems()
	for _, p := range probs {
		annotate(a, p, "vigil test: "+p.Kind)
	}
	return fileCommands(a, func() {
		a.AddStepSummary(r.summary(probs))
		unitPassed, unitFailed, coverage := 0, 0, ""
		if u := r.Unit; u != nil {
			unitPassed, unitFailed, coverage = u.Passed, u.Failed+u.Errored, strconv.FormatFloat(u.Coverage, 'f', 1, 64)
		}
		for _, kv := range [][2]string{
			{"ok", strconv.FormatBool(r.OK())},
			{"revision", r.Revision},
			{"rules", strconv.Itoa(r.Rules)},
			{"shadow_rules", strconv.Itoa(r.ShadowRules)},
			{"unit_passed", strconv.Itoa(unitPassed)},
			{"unit_failed", strconv.Itoa(unitFailed)},
			{"coverage", coverage},
			{"fixtures", strconv.Itoa(r.Fixtures.Records)},
			{"fixtures_passed", strconv.Itoa(r.Fixtures.Passed)},
			{"failures", strconv.Itoa(len(probs))},
		} {
			a.SetOutput(kv[0], kv[1])
		}
	})
}

// maxSummaryProblems keeps a broken bundle's summary readable.
const maxSummaryProblems = 50

// summary is the job summary: one table of the checks, then the failures.
func (r *Report) summary(probs []Problem) string {
	var b strings.Builder
	verdict := "✅ passed"
	if !r.OK() {
		verdict = fmt.Sprintf("❌ %d failure(s)", len(probs))
	}
	fmt.Fprintf(&b, "### vigil test: %s\n\n", verdict)
	fmt.Fprintf(&b, "Policies `%s`", r.Policies)
	if r.Revision != "" {
		fmt.Fprintf(&b, " at revision `%s`", r.Revision)
	}
	b.WriteString(".\n\n| check | result |\n|---|---|\n")
	mark := func(ok bool) string {
		if ok {
			return "✅"
		}
		return "❌"
	}
	if len(r.Compile) > 0 {
		fmt.Fprintf(&b, "| rules | ❌ %d compile or metadata problem(s) |\n", len(r.Compile))
	} else {
		fmt.Fprintf(&b, "| rules | ✅ %d (%d in shadow mode), strict Rego v1, metadata valid |\n", r.Rules, r.ShadowRules)
		fmt.Fprintf(&b, "| lint | %s %d problem(s) |\n", mark(len(r.Lint) == 0), len(r.Lint))
	}
	if u := r.Unit; u != nil {
		fmt.Fprintf(&b, "| unit tests | %s %d passed, %d failed, %d errors |\n", mark(len(u.Failures) == 0), u.Passed, u.Failed, u.Errored)
		fmt.Fprintf(&b, "| coverage | %s %.1f%% (required %.1f%%) |\n", mark(r.CoverageOK()), u.Coverage, r.MinCoverage)
	}
	if r.Fixtures.Files > 0 || len(r.Fixtures.Failures) > 0 {
		fmt.Fprintf(&b, "| fixtures | %s %d files, %d records, %d passed |\n", mark(len(r.Fixtures.Failures) == 0),
			r.Fixtures.Files, r.Fixtures.Records, r.Fixtures.Passed)
	}
	fmt.Fprintf(&b, "| failures | %s %d |\n", mark(len(probs) == 0), len(probs))
	if len(probs) == 0 {
		return b.String()
	}
	b.WriteString("\n| where | kind | problem |\n|---|---|---|\n")
	for i, p := range probs {
		if i == maxSummaryProblems {
			fmt.Fprintf(&b, "| … | | %d more |\n", len(probs)-i)
			break
		}
		where := p.File
		if p.Line > 0 {
			where += ":" + strconv.Itoa(p.Line)
		}
		if where != "" {
			where = "`" + where + "`"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", where, p.Kind, mdCell(p.Msg))
	}
	return b.String()
}
