package model

import (
	"fmt"
	"io/fs"
	"math"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-risk/vigil/runner/record"
)

// Model types, the YAML `type`.
const (
	typeLogistic = "logistic_regression"
	typeLightGBM = "lightgbm"
)

// loader collects every problem of every file.
type loader struct {
	fsys     fs.FS
	opts     LoadOptions
	errs     []*Error
	usesTime bool
}

func (l *loader) errorf(file string, line int, format string, args ...any) {
	l.errs = append(l.errs, &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// loadFile reads one model file. It returns nil when the file has an error
// (recorded in l.errs), and the line of `name` for duplicate-name messages.
func (l *loader) loadFile(file string) (*model, int) {
	data, err := fs.ReadFile(l.fsys, file)
	if err != nil {
		l.errorf(file, 0, "%v", err)
		return nil, 0
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line, msg := yamlSyntaxError(err)
		l.errorf(file, line, "%s", msg)
		return nil, 0
	}
	if len(doc.Content) == 0 {
		l.errorf(file, 0, "empty file: want a model (name, type, inputs, ...)")
		return nil, 0
	}
	p := &fileParser{loader: l, file: file}
	m, nameLine := p.model(doc.Content[0])
	if p.failed {
		return nil, 0
	}
	return m, nameLine
}

// yamlSyntaxError splits yaml.v3's "yaml: line N: msg" into N and msg.
func yamlSyntaxError(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr == nil {
		_, msg, _ = strings.Cut(msg, ": ")
	}
	return line, msg
}

// fileParser walks one file's YAML nodes so that every message has a line.
type fileParser struct {
	*loader
	file   string
	failed bool
}

func (p *fileParser) fail(n *yaml.Node, format string, args ...any) {
	p.failed = true
	p.errorf(p.file, n.Line, format, args...)
}

func (p *fileParser) model(root *yaml.Node) (*model, int) {
	if root.Kind != yaml.MappingNode {
		p.fail(root, "want a mapping with name, type, inputs, ...")
		return nil, 0
	}
	keys, vals := p.mapping(root)

	typ := ""
	if n := vals["type"]; n == nil {
		p.fail(root, "type is missing: want %s or %s", typeLogistic, typeLightGBM)
	} else if typ = p.str(n, "type"); typ != "" && typ != typeLogistic && typ != typeLightGBM {
		p.fail(n, "type %q: want %s or %s", typ, typeLogistic, typeLightGBM)
		typ = ""
	}
	p.checkKeys(keys, typ)

	name := ""
	nameLine := root.Line
	if n := vals["name"]; n == nil {
		p.fail(root, "name is missing: it becomes input.scores.<name>")
	} else if name, nameLine = p.str(n, "name"), n.Line; name != "" && !snakeCase(name) {
		p.fail(n, "name %q: want snake_case (a-z, 0-9, _; starting with a letter)", name)
	}
	if n := vals["description"]; n != nil {
		p.str(n, "description")
	}

	inputsNode := vals["inputs"]
	var inputs []input
	var coefs []float64
	if inputsNode == nil {
		p.fail(root, "inputs is missing: want a list of {from, missing, ...}")
	} else if inputsNode.Kind != yaml.SequenceNode || len(inputsNode.Content) == 0 {
		p.fail(inputsNode, "inputs: want a non-empty list of {from, missing, ...}")
	} else {
		for i, n := range inputsNode.Content {
			in, coef := p.input(n, i, typ)
			inputs = append(inputs, in)
			coefs = append(coefs, coef)
		}
	}

	var s scorer
	switch typ {
	case typeLogistic:
		intercept := 0.0
		if n := vals["intercept"]; n == nil {
			p.fail(root, "intercept is missing: a logistic regression needs one (it may be 0)")
		} else {
			intercept = p.finite(n, "intercept")
		}
		s = &logistic{intercept: intercept, inputs: inputs, coefs: coefs}
	case typeLightGBM:
		s = p.lightgbm(root, vals, inputsNode, inputs)
	}
	if p.failed {
		return nil, 0
	}
	return &model{name: name, file: p.file, scorer: s}, nameLine
}

// lightgbm reads the LightGBM file the model names and checks it against
// the inputs and the requested output.
func (p *fileParser) lightgbm(root *yaml.Node, vals map[string]*yaml.Node, inputsNode *yaml.Node, inputs []input) scorer {
	probability := true
	outputNode := root
	if n := vals["output"]; n != nil {
		outputNode = n
		switch out := p.str(n, "output"); out {
		case "probability":
		case "raw":
			probability = false
		case "":
		default:
			p.fail(n, "output %q: want probability or raw", out)
		}
	}
	fileNode := vals["file"]
	if fileNode == nil {
		p.fail(root, "file is missing: want the LightGBM text model, beside this file")
		return nil
	}
	name := p.str(fileNode, "file")
	if name == "" {
		return nil
	}
	if !fs.ValidPath(name) || name == "." {
		p.fail(fileNode, "file %q: want a path relative to this file's directory, without . or .. elements", name)
		return nil
	}
	modelPath := path.Join(path.Dir(p.file), name)
	data, err := fs.ReadFile(p.fsys, modelPath)
	if err != nil {
		p.fail(fileNode, "file %q: %v", name, err)
		return nil
	}
	lg, err := readLightGBM(data)
	if err != nil {
		p.fail(fileNode, "file %q: %v", name, err)
		return nil
	}
	if inputsNode != nil && len(inputsNode.Content) > 0 && len(inputsNode.Content) != lg.features {
		p.fail(inputsNode, "inputs: %d given, but %s has %d features: list one input per feature, in the model's feature order",
			len(inputsNode.Content), name, lg.features)
	}
	sig := 0.0
	if probability {
		var ok bool
		if sig, ok = binarySigmoid(lg.objective); !ok {
			p.fail(outputNode, "output: probability needs a binary objective, and %s has objective %q: use output: raw", name, lg.objective)
		}
	}
	if p.failed {
		return nil
	}
	return newGBT(inputs, lg.trees, sig)
}

// input parses one entry of inputs. The coef is 0 for a LightGBM model.
func (p *fileParser) input(n *yaml.Node, i int, typ string) (input, float64) {
	var in input
	if n.Kind != yaml.MappingNode {
		p.fail(n, "inputs[%d]: want a mapping {from, missing, ...}", i)
		return in, 0
	}
	keys, vals := p.mapping(n)
	allowed := []string{"from", "missing", "transform"}
	if typ != typeLightGBM {
		allowed = append(allowed, "coef")
	}
	for _, k := range keys {
		if !slices.Contains(allowed, k.Value) {
			p.fail(k, "inputs[%d]: unknown key %q (want %s)", i, k.Value, strings.Join(allowed, ", "))
		}
	}

	if f := vals["from"]; f == nil {
		p.fail(n, "inputs[%d]: from is missing: want record.<field>, features.<name> or time.<part>", i)
	} else if from := p.str(f, "from"); from != "" {
		in.src = p.source(f, from)
	}

	var steps []step
	if t := vals["transform"]; t != nil {
		steps = p.transforms(t, i)
	}
	in.steps = steps

	if m := vals["missing"]; m == nil {
		p.fail(n, "inputs[%d]: missing is required: the value used when the input is absent or not a number", i)
	} else {
		missing := p.number(m, "missing")
		switch {
		case math.IsNaN(missing) && typ == typeLightGBM:
			// NaN hands a missing value to the trees' own missing-value routing.
			in.missingX = missing
		case !finite(missing):
			p.fail(m, "missing: want a finite number")
		default:
			in.missingX = transform(steps, missing)
			if !finite(in.missingX) {
				p.fail(m, "missing: %v becomes %v through the transforms: want a value they map to a finite number", missing, in.missingX)
			}
		}
	}

	coef := 0.0
	if typ == typeLogistic {
		if c := vals["coef"]; c == nil {
			p.fail(n, "inputs[%d]: coef is missing", i)
		} else {
			coef = p.finite(c, "coef")
		}
	}
	return in, coef
}

// source resolves an input's from.
func (p *fileParser) source(n *yaml.Node, from string) source {
	kind, name, _ := strings.Cut(from, ".")
	switch {
	case kind == "record" && name != "":
		p.checkRecordField(n, name)
		return source{kind: fromRecord, key: name}
	case kind == "features" && name != "":
		if p.opts.KnownFeature != nil && !p.opts.KnownFeature(name) {
			p.fail(n, "from %q: no feature %q is declared (features.yaml)", from, name)
		}
		return source{kind: fromFeature, key: name}
	case kind == "time":
		if part, ok := timePart(name); ok {
			p.usesTime = true
			return source{kind: part}
		}
	}
	p.fail(n, "from %q: want record.<field>, features.<name>, time.hour, time.weekday, time.weekend or time.night", from)
	return source{}
}

func timePart(name string) (sourceKind, bool) {
	switch name {
	case "hour":
		return fromHour, true
	case "weekday":
		return fromWeekday, true
	case "weekend":
		return fromWeekend, true
	case "night":
		return fromNight, true
	}
	return 0, false
}

func (p *fileParser) checkRecordField(n *yaml.Node, name string) {
	s := p.opts.Schema
	if s == nil {
		return
	}
	f, ok := s.Field(name)
	switch {
	case !ok:
		p.fail(n, "from %q: the record schema has no field %q", "record."+name, name)
	case f.Name != name:
		p.fail(n, "from %q: %q is an alias of field %q; records carry the field's name", "record."+name, name, f.Name)
	case f.Type != record.TypeNumber && f.Type != record.TypeInteger && f.Type != record.TypeBoolean:
		p.fail(n, "from %q: field %q has type %s; a model input must be a number, an integer or a boolean", "record."+name, name, f.Type)
	}
}

// transforms parses a transform list: log1p, bool, {clip: [lo, hi]},
// {standardize: {mean, std}}.
func (p *fileParser) transforms(n *yaml.Node, i int) []step {
	if n.Kind != yaml.SequenceNode {
		p.fail(n, "inputs[%d].transform: want a list, e.g. [log1p, {clip: [0, 100]}]", i)
		return nil
	}
	var steps []step
	for _, t := range n.Content {
		name, arg := t.Value, (*yaml.Node)(nil)
		switch {
		case t.Kind == yaml.MappingNode && len(t.Content) == 2:
			name, arg = t.Content[0].Value, t.Content[1]
		case t.Kind != yaml.ScalarNode:
			p.fail(t, "transform: want log1p, bool, {clip: [lo, hi]} or {standardize: {mean: m, std: s}}")
			continue
		}
		switch name {
		case "log1p", "bool":
			if arg != nil {
				p.fail(t, "transform %s takes no argument", name)
				continue
			}
			o := opLog1p
			if name == "bool" {
				o = opBool
			}
			steps = append(steps, step{op: o})
		case "clip":
			if s, ok := p.clip(t, arg); ok {
				steps = append(steps, s)
			}
		case "standardize":
			if s, ok := p.standardize(t, arg); ok {
				steps = append(steps, s)
			}
		default:
			p.fail(t, "unknown transform %q: want log1p, bool, clip or standardize", name)
		}
	}
	return steps
}

func (p *fileParser) clip(t, arg *yaml.Node) (step, bool) {
	if arg == nil || arg.Kind != yaml.SequenceNode || len(arg.Content) != 2 {
		p.fail(t, "clip: want [lo, hi]")
		return step{}, false
	}
	lo, hi := p.finite(arg.Content[0], "clip lo"), p.finite(arg.Content[1], "clip hi")
	if !(lo < hi) {
		p.fail(arg, "clip: lo %v must be less than hi %v", lo, hi)
		return step{}, false
	}
	return step{op: opClip, a: lo, b: hi}, true
}

func (p *fileParser) standardize(t, arg *yaml.Node) (step, bool) {
	if arg == nil || arg.Kind != yaml.MappingNode {
		p.fail(t, "standardize: want {mean: m, std: s}")
		return step{}, false
	}
	keys, vals := p.mapping(arg)
	for _, k := range keys {
		if k.Value != "mean" && k.Value != "std" {
			p.fail(k, "standardize: unknown key %q (want mean, std)", k.Value)
		}
	}
	mean, std := vals["mean"], vals["std"]
	if mean == nil || std == nil {
		p.fail(arg, "standardize: want both mean and std")
		return step{}, false
	}
	s := step{op: opStandardize, a: p.finite(mean, "mean"), b: p.finite(std, "std")}
	if !(s.b > 0) {
		p.fail(std, "standardize: std %v must be greater than 0", s.b)
		return step{}, false
	}
	return s, true
}

// mapping returns a mapping's keys in order and its values by key,
// reporting keys given twice.
func (p *fileParser) mapping(n *yaml.Node) ([]*yaml.Node, map[string]*yaml.Node) {
	keys := make([]*yaml.Node, 0, len(n.Content)/2)
	vals := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if _, dup := vals[k.Value]; dup {
			p.fail(k, "key %q is given twice", k.Value)
			continue
		}
		keys = append(keys, k)
		vals[k.Value] = v
	}
	return keys, vals
}

// checkKeys reports top-level keys that the model type does not have.
func (p *fileParser) checkKeys(keys []*yaml.Node, typ string) {
	allowed := []string{"name", "type", "description", "training", "inputs"}
	switch typ {
	case typeLogistic:
		allowed = append(allowed, "intercept")
	case typeLightGBM:
		allowed = append(allowed, "file", "output")
	default: // unknown type, already reported: only flag keys no type has
		allowed = append(allowed, "intercept", "file", "output")
	}
	for _, k := range keys {
		if !slices.Contains(allowed, k.Value) {
			what := "unknown key"
			if typ != "" {
				what = "key not used by a " + typ + " model"
			}
			p.fail(k, "%s %q (want %s)", what, k.Value, strings.Join(allowed, ", "))
		}
	}
}

// str reads a non-empty string scalar.
func (p *fileParser) str(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" || n.Value == "" {
		p.fail(n, "%s: want a non-empty string", what)
		return ""
	}
	return n.Value
}

// number reads a numeric scalar (.nan and .inf included).
func (p *fileParser) number(n *yaml.Node, what string) float64 {
	var x float64
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") || n.Decode(&x) != nil {
		p.fail(n, "%s: want a number, got %q", what, n.Value)
		return 0
	}
	return x
}

// finite reads a finite number.
func (p *fileParser) finite(n *yaml.Node, what string) float64 {
	x := p.number(n, what)
	if !finite(x) {
		p.fail(n, "%s: want a finite number, got %v", what, x)
		return 0
	}
	return x
}

func snakeCase(s string) bool {
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_'):
		default:
			return false
		}
	}
	return s != ""
}
