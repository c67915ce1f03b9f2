package feature

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-risk/vigil/runner/record"
)

// ParseSpecs reads features.yaml. It is strict: unknown keys are errors, and
// so is every inconsistency (a duplicate name, an aggregate without the
// field it needs or with options it ignores, a window out of range, a ratio
// over an unknown feature or in a cycle, ...). With a schema, every entity,
// field, at and filter key must be a field of it, of a fitting type. Every
// problem found is returned at once as Errors, each with file and line.
func ParseSpecs(data []byte, file string, schema *record.Schema) (*Specs, error) {
	p := &parser{file: file, schema: schema}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line, msg := yamlSyntax(err)
		return nil, Errors{{File: file, Line: line, Msg: msg}}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, Errors{{File: file, Msg: "the file is empty: want version: 1 and a list of features"}}
	}
	root := doc.Content[0]
	keys := p.mapping(root, "the file", "version", "features")
	if keys == nil {
		return nil, p.errs.Sorted()
	}
	switch v := keys["version"]; {
	case v == nil:
		p.fail(root, "version: missing, want 1")
	case v.Value != "1" || v.Tag != "!!int":
		p.fail(v, "version: %q is not supported, want 1", v.Value)
	}
	list := keys["features"]
	switch {
	case list == nil:
		p.fail(root, "features: missing, want a list of features")
	case list.Kind != yaml.SequenceNode:
		p.fail(list, "features: want a list of features")
	}
	specs := &Specs{File: file, byName: map[string]int{}}
	if list != nil && list.Kind == yaml.SequenceNode {
		for _, n := range list.Content {
			f, ok := p.feature(n)
			if !ok {
				continue
			}
			if i, dup := specs.byName[f.Name]; dup {
				p.fail(n, "feature %q: the name is already used at line %d", f.Name, specs.Features[i].Line)
				continue
			}
			specs.byName[f.Name] = len(specs.Features)
			specs.Features = append(specs.Features, f)
		}
	}
	p.checkRatios(specs)
	if len(p.errs) > 0 {
		return nil, p.errs.Sorted()
	}
	specs.hash = specsHash(specs.Features)
	return specs, nil
}

type parser struct {
	file   string
	schema *record.Schema
	errs   Errors
}

func (p *parser) fail(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: n.Line, Msg: fmt.Sprintf(format, args...)})
}

// mapping checks that n is a mapping whose keys are all allowed and unique,
// and returns key → value node. It returns nil (and records why) when n is
// not a mapping.
func (p *parser) mapping(n *yaml.Node, what string, allowed ...string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		p.fail(n, "%s: want a mapping", what)
		return nil
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	lines := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case !slices.Contains(allowed, k.Value):
			p.fail(k, "%s: unknown key %q (want one of %s)", what, k.Value, strings.Join(allowed, ", "))
		case lines[k.Value] > 0:
			p.fail(k, "%s: key %q is already given at line %d", what, k.Value, lines[k.Value])
		default:
			lines[k.Value] = k.Line
			out[k.Value] = v
		}
	}
	return out
}

var featureKeys = []string{
	"name", "description", "aggregate", "entity", "field", "window", "delay", "at", "lateness",
	"resolution", "filter", "default", "numerator", "denominator",
}

// feature parses one list entry; ok is false when it is unusable (the
// errors are recorded).
func (p *parser) feature(n *yaml.Node) (f Feature, ok bool) {
	keys := p.mapping(n, "feature", featureKeys...)
	if keys == nil {
		return f, false
	}
	before := len(p.errs)
	f.Line = n.Line
	if v := keys["name"]; v == nil {
		p.fail(n, "feature: name is missing")
		return f, false
	} else if f.Name, ok = p.str(v, "feature: name"); !ok {
		return f, false
	}
	what := fmt.Sprintf("feature %q", f.Name)
	if !nameRE.MatchString(f.Name) {
		p.fail(keys["name"], "%s: the name must be snake_case (lower-case letters, digits and single underscores, starting with a letter)", what)
	}
	if v := keys["description"]; v != nil {
		f.Description, _ = p.str(v, what+": description")
	}
	agg := keys["aggregate"]
	if agg == nil {
		p.fail(n, "%s: aggregate is missing (want one of %s)", what, aggregateList())
		return f, false
	}
	f.Aggregate = Aggregate(agg.Value)
	if agg.Kind != yaml.ScalarNode || !f.Aggregate.valid() {
		p.fail(agg, "%s: aggregate %q is not one of %s", what, agg.Value, aggregateList())
		return f, false
	}

	if f.Aggregate == Ratio {
		for _, k := range []string{"entity", "field", "window", "delay", "at", "lateness", "resolution", "filter"} {
			if v := keys[k]; v != nil {
				p.fail(v, "%s: %s does not apply to a ratio (it divides two other features)", what, k)
			}
		}
		for _, k := range []string{"numerator", "denominator"} {
			v := keys[k]
			if v == nil {
				p.fail(n, "%s: a ratio needs %s (the name of another feature)", what, k)
				continue
			}
			s, _ := p.str(v, what+": "+k)
			if k == "numerator" {
				f.Numerator = s
			} else {
				f.Denominator = s
			}
		}
	} else {
		for _, k := range []string{"numerator", "denominator"} {
			if v := keys[k]; v != nil {
				p.fail(v, "%s: %s applies to aggregate ratio only", what, k)
			}
		}
		p.entity(&f, keys["entity"], n, what)
		p.field(&f, keys["field"], n, what)
		p.durations(&f, keys, n, what)
		if v := keys["at"]; v != nil {
			if f.At, ok = p.str(v, what+": at"); ok {
				p.schemaField(v, what+": at", f.At, record.TypeTimestamp)
			}
		}
		if v := keys["filter"]; v != nil {
			f.Filter = p.filter(v, what)
		}
	}
	if v := keys["default"]; v != nil {
		f.Default = p.defaultValue(v, &f, what)
	}
	return f, len(p.errs) == before
}

func aggregateList() string {
	parts := make([]string, len(aggregates))
	for i, a := range aggregates {
		parts[i] = string(a)
	}
	return strings.Join(parts, ", ")
}

func (p *parser) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" || n.Value == "" {
		p.fail(n, "%s: want a non-empty string", what)
		return "", false
	}
	return n.Value, true
}

func (p *parser) entity(f *Feature, n, parent *yaml.Node, what string) {
	if n == nil {
		p.fail(parent, "%s: entity is missing (a record field, or a list of fields for a composite entity)", what)
		return
	}
	var items []*yaml.Node
	switch n.Kind {
	case yaml.ScalarNode:
		items = []*yaml.Node{n}
	case yaml.SequenceNode:
		items = n.Content
		if len(items) == 0 {
			p.fail(n, "%s: entity: the list of fields is empty", what)
		}
	default:
		p.fail(n, "%s: entity: want a field name or a list of field names", what)
		return
	}
	for _, it := range items {
		name, ok := p.str(it, what+": entity")
		if !ok {
			continue
		}
		if slices.Contains(f.Entity, name) {
			p.fail(it, "%s: entity: field %q is listed twice", what, name)
			continue
		}
		p.schemaField(it, what+": entity", name, record.TypeString, record.TypeNumber, record.TypeInteger, record.TypeBoolean, record.TypeTimestamp)
		f.Entity = append(f.Entity, name)
	}
}

func (p *parser) field(f *Feature, n, parent *yaml.Node, what string) {
	switch {
	case n == nil && f.Aggregate.needsField():
		p.fail(parent, "%s: aggregate %s needs field (the record field to aggregate)", what, f.Aggregate)
		return
	case n == nil:
		return
	case !f.Aggregate.needsField():
		p.fail(n, "%s: field does not apply to aggregate %s", what, f.Aggregate)
		return
	}
	name, ok := p.str(n, what+": field")
	if !ok {
		return
	}
	f.Field = name
	if f.Aggregate.numeric() {
		p.schemaField(n, what+": field", name, record.TypeNumber, record.TypeInteger, record.TypeBoolean)
	} else {
		p.schemaField(n, what+": field", name, record.TypeString, record.TypeNumber, record.TypeInteger, record.TypeBoolean, record.TypeTimestamp)
	}
}

func (p *parser) durations(f *Feature, keys map[string]*yaml.Node, parent *yaml.Node, what string) {
	dur := func(key string, lo, hi time.Duration) (time.Duration, *yaml.Node, bool) {
		n := keys[key]
		if n == nil {
			return 0, nil, false
		}
		s, ok := p.str(n, what+": "+key)
		if !ok {
			return 0, n, false
		}
		d, err := parseDuration(s)
		if err != nil {
			p.fail(n, "%s: %s: %v", what, key, err)
			return 0, n, false
		}
		if d < lo || d > hi {
			p.fail(n, "%s: %s %s is out of range (%s to %s)", what, key, s, formatDuration(lo), formatDuration(hi))
			return 0, n, false
		}
		return d, n, true
	}
	if d, n, ok := dur("window", minWindow, maxWindow); ok {
		f.Window = d
	} else if n == nil {
		p.fail(parent, "%s: window is missing (1s to 90d, e.g. 10m or 7d)", what)
	}
	if d, n, ok := dur("delay", 0, maxWindow); ok {
		f.Delay = d
		switch f.Aggregate {
		case Last, FirstSeenAge:
			if d > 0 {
				p.fail(n, "%s: delay does not apply to aggregate %s", what, f.Aggregate)
			}
		}
	}
	if d, _, ok := dur("lateness", 0, maxWindow); ok {
		f.Lateness = &d
	}
	f.Resolution = defaultResolution
	if d, n, ok := dur("resolution", minResolution, maxWindow); ok {
		f.Resolution = d
		if f.Window > 0 && d > f.Window {
			p.fail(n, "%s: resolution %s is wider than the window %s", what, formatDuration(d), formatDuration(f.Window))
		}
	}
}

// schemaField checks that name is a field of the schema with one of the
// given types (any type when none is given). Without a schema it passes.
func (p *parser) schemaField(n *yaml.Node, what, name string, types ...record.FieldType) *record.Field {
	if p.schema == nil {
		return nil
	}
	fd, ok := p.schema.Field(name)
	if !ok || fd.Name != name {
		msg := fmt.Sprintf("%s: %q is not a field of the schema %s", what, name, p.schema.File)
		if ok {
			msg += fmt.Sprintf(" (it is an alias of %q: use that name)", fd.Name)
		}
		p.fail(n, "%s", msg)
		return nil
	}
	if len(types) > 0 && !slices.Contains(types, fd.Type) {
		names := make([]string, len(types))
		for i, t := range types {
			names[i] = string(t)
		}
		p.fail(n, "%s: field %q has type %s, want %s", what, name, fd.Type, strings.Join(names, " or "))
		return nil
	}
	return fd
}

func (p *parser) defaultValue(n *yaml.Node, f *Feature, what string) any {
	v, ok := scalar(n)
	if !ok {
		p.fail(n, "%s: default: want a number", what)
		return nil
	}
	switch f.Aggregate {
	case Last:
		if p.schema != nil && f.Field != "" {
			if fd, ok := p.schema.Field(f.Field); ok && !operandFits(fd.Type, v) {
				p.fail(n, "%s: default %s does not fit field %q of type %s", what, canonicalValue(v), f.Field, fd.Type)
				return nil
			}
		}
		return v
	default:
		if _, ok := v.(float64); !ok {
			p.fail(n, "%s: default: want a number, got %s", what, canonicalValue(v))
			return nil
		}
		return v
	}
}

// scalar decodes a YAML scalar as a filter operand or default: float64,
// string or bool. Null and non-scalars are refused.
func scalar(n *yaml.Node) (any, bool) {
	if n.Kind != yaml.ScalarNode {
		return nil, false
	}
	switch n.Tag {
	case "!!int", "!!float":
		var x float64
		if err := n.Decode(&x); err != nil {
			return nil, false
		}
		return x, true
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, false
		}
		return b, true
	case "!!str":
		return n.Value, true
	}
	return nil, false
}

// checkRatios resolves every ratio's operands and refuses cycles.
func (p *parser) checkRatios(s *Specs) {
	for i := range s.Features {
		f := &s.Features[i]
		if f.Aggregate != Ratio {
			continue
		}
		for _, ref := range []string{f.Numerator, f.Denominator} {
			if ref == "" {
				continue
			}
			j, ok := s.byName[ref]
			switch {
			case ref == f.Name:
				p.errs = append(p.errs, &Error{File: p.file, Line: f.Line, Msg: fmt.Sprintf("feature %q: a ratio cannot refer to itself", f.Name)})
			case !ok:
				p.errs = append(p.errs, &Error{File: p.file, Line: f.Line, Msg: fmt.Sprintf("feature %q: ratio operand %q is not a feature of this file", f.Name, ref)})
			case s.Features[j].Aggregate == Last:
				p.errs = append(p.errs, &Error{File: p.file, Line: f.Line, Msg: fmt.Sprintf("feature %q: ratio operand %q is a last value, not a number", f.Name, ref)})
			}
		}
	}
	// Depth-first search over ratio → ratio references; a grey node met
	// again closes a cycle.
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(s.Features))
	var visit func(i int, path []string) bool
	visit = func(i int, path []string) bool {
		f := &s.Features[i]
		if f.Aggregate != Ratio || color[i] == black {
			return true
		}
		if color[i] == grey {
			start := slices.Index(path, f.Name)
			p.errs = append(p.errs, &Error{File: p.file, Line: f.Line, Msg: fmt.Sprintf("feature %q: ratios refer to each other in a cycle: %s", f.Name, strings.Join(append(path[start:], f.Name), " → "))})
			return false
		}
		color[i] = grey
		ok := true
		for _, ref := range []string{f.Numerator, f.Denominator} {
			if j, found := s.byName[ref]; found && j != i {
				ok = visit(j, append(path, f.Name)) && ok
			}
		}
		color[i] = black
		return ok
	}
	for i := range s.Features {
		if color[i] == white && !visit(i, nil) {
			return
		}
	}
}

// yamlSyntax splits a yaml.v3 syntax error ("yaml: line 3: did not find
// expected key") into its line and message.
func yamlSyntax(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr == nil {
		if i := strings.Index(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
	}
	return line, msg
}
