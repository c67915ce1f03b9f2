package policy

import (
	"bytes"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/vigil-risk/vigil/runner/decision"
)

// Rule is one risk rule: a package risk.rules.<name> and its METADATA.
type Rule struct {
	Name        string            `json:"name"`    // last package segment: card_testing
	Package     string            `json:"package"` // risk.rules.card_testing
	Title       string            `json:"title"`
	Description string            `json:"description,omitempty"`
	Severity    decision.Severity `json:"severity"`
	Action      decision.Action   `json:"action"`
	Mode        decision.Mode     `json:"mode"`
	Entity      string            `json:"entity"` // the record field an alert is about
	Owner       string            `json:"owner"`
	Tags        []string          `json:"tags,omitempty"`
	Runbook     string            `json:"runbook,omitempty"`
	AutoAction  string            `json:"auto_action,omitempty"` // an action endpoint an alert of this rule calls (handling.auto_actions)
	File        string            `json:"file"`                  // where the package's METADATA is, for messages
	Line        int               `json:"line"`
}

// rulesRoot is where rule packages live; data.risk.rules[name].hit is a hit.
var rulesRoot = ast.MustParseRef("data.risk.rules")

var hitVar = ast.Var("hit")

// actionName is the shape of an auto_action: a name from the environment's
// handling.auto_actions.endpoints.
var actionName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

// customKeys are the METADATA custom keys a rule may set; others are typos.
var customKeys = []string{"severity", "action", "mode", "entity", "owner", "tags", "runbook", "auto_action"}

// readRules finds the rule packages among the modules and reads and checks
// each one's metadata and hit rules. It also returns which rule each module
// file belongs to, to name the rule in evaluation errors.
func readRules(modules []bundle.ModuleFile, isField func(string) bool) ([]Rule, map[string]string, Errors) {
	var errs Errors
	byName := map[string][]*ast.Module{}
	fileRule := map[string]string{}
	for _, mf := range modules {
		m := mf.Parsed
		pkg := m.Package.Path
		if !pkg.HasPrefix(rulesRoot) {
			continue // a helper library, e.g. risk.lib.*
		}
		name, ok := ruleName(pkg)
		if !ok {
			errs = append(errs, at(m.Package.Location, "package %s: a rule package is risk.rules.<name>, one level below risk.rules", pkgName(pkg)))
			continue
		}
		byName[name] = append(byName[name], m)
		fileRule[m.Package.Location.File] = name
	}

	if len(byName) == 0 && len(errs) == 0 {
		errs = append(errs, &Error{Msg: "the bundle has no rules: a rule is a package risk.rules.<name> defining hit"})
	}
	rules := make([]Rule, 0, len(byName))
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		mods := byName[name]
		slices.SortFunc(mods, func(a, b *ast.Module) int { return strings.Compare(a.Package.Location.File, b.Package.Location.File) })
		r, rerrs := readRule(name, mods, isField)
		errs = append(errs, rerrs...)
		errs = append(errs, checkHit(name, mods)...)
		if len(rerrs) == 0 {
			rules = append(rules, r)
		}
	}
	return rules, fileRule, errs
}

func ruleName(pkg ast.Ref) (string, bool) {
	if len(pkg) != len(rulesRoot)+1 {
		return "", false
	}
	s, ok := pkg[len(rulesRoot)].Value.(ast.String)
	return string(s), ok && s != ""
}

func pkgName(pkg ast.Ref) string { return strings.TrimPrefix(pkg.String(), "data.") }

// readRule reads the package-scope METADATA of one rule package.
func readRule(name string, mods []*ast.Module, isField func(string) bool) (Rule, Errors) {
	var a *ast.Annotations
	var mod *ast.Module
	for _, m := range mods {
		for _, x := range m.Annotations {
			if x.Scope == "package" && a == nil { // a second one is the compiler's error to report
				a, mod = x, m
			}
		}
	}
	pkg := pkgName(mods[0].Package.Path)
	if a == nil {
		hint := "put one right above `package` with a title and custom: severity, action, mode, entity and owner"
		for _, m := range mods {
			if len(m.Annotations) > 0 {
				l := m.Annotations[0].Location
				hint = fmt.Sprintf("the METADATA at %s:%d applies to the %s below it, not the package; move it right above `package`", l.File, l.Row, m.Annotations[0].Scope)
				break
			}
		}
		return Rule{}, Errors{at(mods[0].Package.Location, "rule %s: package %s has no METADATA annotation; %s", name, pkg, hint)}
	}

	r := Rule{Name: name, Package: pkg, Title: a.Title, Description: a.Description, File: a.Location.File, Line: a.Location.Row}
	block := metadataBlock{mod: mod, a: a}
	var errs Errors
	fail := func(key, format string, args ...any) {
		errs = append(errs, &Error{File: r.File, Line: block.line(key), Msg: "rule " + name + ": " + fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(a.Title) == "" {
		fail("title", "title is required")
	}

	custom := a.Custom
	str := func(key, hint string) (string, bool) {
		v, present := custom[key]
		if !present {
			fail("custom", "custom.%s is required (%s)", key, hint)
			return "", false
		}
		s, ok := v.(string)
		if !ok || strings.TrimSpace(s) == "" {
			fail("custom."+key, "custom.%s: want %s, got %v", key, hint, v)
			return "", false
		}
		return s, true
	}
	if s, ok := str("severity", "low, medium, high or critical"); ok {
		v, err := decision.ParseSeverity(s)
		if err != nil {
			fail("custom.severity", "custom.%v", err)
		}
		r.Severity = v
	}
	if s, ok := str("action", "allow, review or block"); ok {
		v, err := decision.ParseAction(s)
		if err != nil {
			fail("custom.action", "custom.%v", err)
		}
		r.Action = v
	}
	if s, ok := str("mode", "enforce or shadow"); ok {
		v, err := decision.ParseMode(s)
		if err != nil {
			fail("custom.mode", "custom.%v", err)
		}
		r.Mode = v
	}
	if s, ok := str("entity", "the record field an alert is about"); ok {
		if isField != nil && !isField(s) {
			fail("custom.entity", "custom.entity %q is not a field of the record schema", s)
		}
		r.Entity = s
	}
	if s, ok := str("owner", "the team that owns the rule"); ok {
		r.Owner = s
	}
	if v, present := custom["tags"]; present {
		tags, ok := stringList(v)
		if !ok {
			fail("custom.tags", "custom.tags: want a list of strings, e.g. [card, velocity]")
		}
		r.Tags = tags
	}
	if v, present := custom["runbook"]; present {
		s, _ := v.(string)
		if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			fail("custom.runbook", "custom.runbook %v: want an absolute http(s) URL", v)
		}
		r.Runbook = s
	}
	if v, present := custom["auto_action"]; present {
		if s, ok := v.(string); ok && actionName.MatchString(s) {
			r.AutoAction = s
		} else {
			fail("custom.auto_action", "custom.auto_action %v: want the name of an action endpoint, e.g. freeze_card", v)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(custom)) {
		if !slices.Contains(customKeys, key) {
			fail("custom."+key, "custom.%s: unknown key (want %s)", key, strings.Join(customKeys, ", "))
		}
	}
	return r, errs
}

// checkHit checks the shape of a rule's hit: one object, defined whole.
func checkHit(name string, mods []*ast.Module) Errors {
	var errs Errors
	found := false
	for _, m := range mods {
		for _, rule := range m.Rules {
			if rule.Head.Ref()[0].Value.Compare(hitVar) != 0 {
				continue
			}
			found = true
			for r := rule; r != nil; r = r.Else {
				if msg := hitShape(r); msg != "" {
					errs = append(errs, at(r.Location, "rule %s: %s", name, msg))
				}
			}
		}
	}
	if !found {
		errs = append(errs, at(mods[0].Package.Location, "rule %s: no `hit` rule; a rule fires by defining hit := {\"reason\": ...}", name))
	}
	return errs
}

func hitShape(r *ast.Rule) string {
	h := r.Head
	switch {
	case len(h.Ref()) > 1:
		return "define hit whole (hit := {\"reason\": ...} if {...}), not key by key"
	case len(h.Args) > 0:
		return "hit is a value, not a function"
	case h.RuleKind() == ast.MultiValue:
		return "hit is one object (hit := {...}), not a set (hit contains ...)"
	}
	if h.Value == nil {
		return ""
	}
	switch v := h.Value.Value.(type) {
	case ast.Boolean, ast.Number, ast.String, ast.Null, *ast.Array, ast.Set:
		return fmt.Sprintf("hit must be an object holding a reason, not %v", v)
	case ast.Object:
		reason := v.Get(ast.StringTerm("reason"))
		if reason == nil {
			return "the hit object has no \"reason\""
		}
		switch reason.Value.(type) {
		case ast.Boolean, ast.Number, ast.Null, *ast.Array, ast.Set, ast.Object:
			return fmt.Sprintf("\"reason\" must be a string, not %v", reason)
		}
	}
	return ""
}

func stringList(v any) ([]string, bool) {
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// metadataBlock finds the line of a key in a METADATA comment block, so
// that a bad value is reported where it is written.
type metadataBlock struct {
	mod *ast.Module
	a   *ast.Annotations
}

// line returns the line of key ("title", "custom", "custom.severity"), or
// of the METADATA line when the key is not written.
func (b metadataBlock) line(key string) int {
	parent, child, nested := strings.Cut(key, ".")
	start, end := b.a.Location.Row, b.a.Location.Row
	if e := b.a.EndLoc(); e != nil {
		end = e.Row
	}
	inParent := false
	for _, c := range b.mod.Comments {
		row := c.Location.Row
		if row <= start || row > end {
			continue
		}
		text := bytes.TrimPrefix(c.Text, []byte(" "))
		indented := len(text) > 0 && (text[0] == ' ' || text[0] == '\t')
		k, _, _ := bytes.Cut(bytes.TrimSpace(text), []byte(":"))
		if !indented {
			inParent = string(k) == parent
			if !nested && inParent {
				return row
			}
			continue
		}
		if nested && inParent && string(k) == child {
			return row
		}
	}
	if nested {
		return b.line(parent)
	}
	return start
}

func at(loc *ast.Location, format string, args ...any) *Error {
	e := &Error{Msg: fmt.Sprintf(format, args...)}
	if loc != nil {
		e.File, e.Line = loc.File, loc.Row
	}
	return e
}
