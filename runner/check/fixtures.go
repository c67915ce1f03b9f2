package check

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Scenario is one fixture file: records in order, each with what the
// pipeline must decide for it.
type Scenario struct {
	File        string
	Name        string
	Description string
	Context     map[string]any
	Steps       []Step
}

// Step is one record of a scenario and its expectation.
type Step struct {
	Line   int            // line of the step in the file
	Record map[string]any // as it would arrive, before normalisation
	Expect Expect
}

// Expect is what a step must produce. Hits are the exact set of enforced
// rules that fire; ShadowHits, when given, the exact set of shadow rules.
type Expect struct {
	Action     string    `yaml:"action"`
	Hits       []string  `yaml:"hits"`
	ShadowHits *[]string `yaml:"shadow_hits"`
}

// LoadScenarios reads every *.yaml / *.yml file in dir (sorted by name).
func LoadScenarios(dir string) ([]*Scenario, error) {
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	if len(files) == 0 {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("fixtures: %w", err)
		}
	}
	var out []*Scenario
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("fixtures: %w", err)
		}
		s, err := ParseScenario(data, f)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

type scenarioDoc struct {
	Name        string         `yaml:"name"`
	Description string         `yaml:"description"`
	Context     map[string]any `yaml:"context"`
	Records     []yaml.Node    `yaml:"records"`
}

type stepDoc struct {
	Record map[string]any `yaml:"record"`
	Expect *Expect        `yaml:"expect"`
}

// ParseScenario reads one fixture; errors name the file and line.
func ParseScenario(data []byte, file string) (*Scenario, error) {
	var doc scenarioDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %s", file, yamlMsg(err))
	}
	s := &Scenario{File: file, Name: doc.Name, Description: doc.Description, Context: doc.Context}
	if s.Name == "" {
		s.Name = filepath.Base(file)
	}
	if len(doc.Records) == 0 {
		return nil, fmt.Errorf("%s: records: a scenario needs at least one record", file)
	}
	for i := range doc.Records {
		n := &doc.Records[i]
		var sd stepDoc
		if err := decodeKnown(n, &sd); err != nil {
			return nil, fmt.Errorf("%s:%d: records[%d]: %s", file, n.Line, i, yamlMsg(err))
		}
		if sd.Record == nil {
			return nil, fmt.Errorf("%s:%d: records[%d]: missing record", file, n.Line, i)
		}
		if sd.Expect == nil {
			return nil, fmt.Errorf("%s:%d: records[%d]: missing expect (action and hits)", file, n.Line, i)
		}
		switch sd.Expect.Action {
		case "allow", "review", "block":
		default:
			return nil, fmt.Errorf("%s:%d: records[%d]: expect.action %q: want allow, review or block", file, n.Line, i, sd.Expect.Action)
		}
		if sd.Expect.Hits == nil {
			sd.Expect.Hits = []string{}
		}
		slices.Sort(sd.Expect.Hits)
		if sd.Expect.ShadowHits != nil {
			slices.Sort(*sd.Expect.ShadowHits)
		}
		s.Steps = append(s.Steps, Step{Line: n.Line, Record: normalizeYAML(sd.Record).(map[string]any), Expect: *sd.Expect})
	}
	return s, nil
}

func decodeKnown(n *yaml.Node, out any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(out)
}

// normalizeYAML turns YAML's decoded values into what JSON decoding would
// give (string keys, float64 numbers), so a fixture record enters the
// pipeline exactly like a record posted over HTTP.
func normalizeYAML(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeYAML(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = normalizeYAML(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = normalizeYAML(e)
		}
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return v
}

func yamlMsg(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return strings.Join(te.Errors, "; ")
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}
