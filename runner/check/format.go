package check

import (
	"encoding/xml"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/sethvargo/go-githubactions"
)

// Format is how a report is written: for people, GitHub Actions, or other CI.
type Format string

const (
	FormatText   Format = "text"
	FormatGitHub Format = "github" // text, plus annotations, a job summary and step outputs
	FormatJUnit  Format = "junit"
	FormatJSON   Format = "json"
)

// ParseFormat reads a --format flag among the allowed formats; empty is the
// default for the environment.
func ParseFormat(s string, getenv func(string) string, allowed ...Format) (Format, error) {
	if s == "" {
		return DefaultFormat(getenv), nil
	}
	if slices.Contains(allowed, Format(s)) {
		return Format(s), nil
	}
	names := make([]string, len(allowed))
	for i, f := range allowed {
		names[i] = string(f)
	}
	return "", fmt.Errorf("%q: want %s or %s", s, strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
}

// DefaultFormat is github under GitHub Actions (GITHUB_ACTIONS=true), text
// elsewhere.
func DefaultFormat(getenv func(string) string) Format {
	if onActions(getenv) {
		return FormatGitHub
	}
	return FormatText
}

func onActions(getenv func(string) string) bool { return getenv("GITHUB_ACTIONS") == "true" }

// fileCommands runs f, which writes GitHub's environment files (job summary,
// outputs), only under Actions, and turns the library's panic on an
// unwritable file into an error.
func fileCommands(a *githubactions.Action, f func()) (err error) {
	if !onActions(a.Getenv) {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("github actions: %v", r)
		}
	}()
	f()
	return nil
}

// annotate writes an error annotation on file:line (when known), the file
// relative to the workspace as GitHub wants it.
func annotate(a *githubactions.Action, p Problem, title string) {
	fields := map[string]string{"title": title}
	if p.File != "" {
		fields["file"] = workspacePath(a.Getenv, p.File)
		if p.Line > 0 {
			fields["line"] = strconv.Itoa(p.Line)
		}
	}
	a.WithFieldsMap(fields).Errorf("%s", p.Msg)
}

func workspacePath(getenv func(string) string, file string) string {
	if ws := getenv("GITHUB_WORKSPACE"); ws != "" && filepath.IsAbs(file) {
		if rel, err := filepath.Rel(ws, file); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.ToSlash(file)
}

// mdCell keeps a table cell on one line and its pipes from ending it.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// JUnit XML, as Jenkins, GitLab and most CI systems read it.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure"`
	Skipped   *struct{}     `xml:"skipped"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// add appends a suite built from cases, keeping the totals.
func (s *junitSuites) add(name string, cases []Case) {
	suite := junitSuite{Name: name}
	var secs float64
	for _, c := range cases {
		jc := junitCase{Name: c.Name, Classname: c.Suite, File: filepath.ToSlash(c.File), Line: c.Line, Time: seconds(c.Seconds)}
		switch {
		case c.Skipped:
			jc.Skipped = &struct{}{}
			suite.Skipped++
		case c.Failure != "":
			where := jc.File
			if c.Line > 0 {
				where += ":" + strconv.Itoa(c.Line)
			}
			jc.Failure = &junitFailure{Message: c.Failure, Type: name, Text: strings.TrimPrefix(where+": "+c.Failure, ": ")}
			suite.Failures++
		}
		secs += c.Seconds
		suite.Cases = append(suite.Cases, jc)
	}
	suite.Tests, suite.Time = len(cases), seconds(secs)
	s.Suites = append(s.Suites, suite)
	s.Tests += suite.Tests
	s.Failures += suite.Failures
	s.Skipped += suite.Skipped
}

func (s *junitSuites) write(w io.Writer) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func seconds(s float64) string { return strconv.FormatFloat(s, 'f', 3, 64) }
