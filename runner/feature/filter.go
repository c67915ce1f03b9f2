package feature

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-risk/vigil/runner/record"
)

// Op is a filter operator.
type Op string

const (
	OpEq     Op = "eq"
	OpNe     Op = "ne"
	OpLt     Op = "lt"
	OpLte    Op = "lte"
	OpGt     Op = "gt"
	OpGte    Op = "gte"
	OpIn     Op = "in"
	OpNotIn  Op = "not_in"
	OpExists Op = "exists"
)

var ops = []Op{OpEq, OpNe, OpLt, OpLte, OpGt, OpGte, OpIn, OpNotIn, OpExists}

// Condition is one test of a record field. Value is a float64, string or
// bool; a []any of those for in and not_in; a bool for exists.
type Condition struct {
	Field string
	Op    Op
	Value any
}

// Filter selects the records that contribute to a feature: all its
// conditions must hold. A record lacking the field fails every condition
// except exists: false. Numbers compare numerically, strings exactly,
// booleans as booleans; a value of another type than the operand is not
// equal to it (so ne and not_in hold) and fails lt, lte, gt and gte.
type Filter []Condition

// Match reports whether the record fields pass every condition.
func (f Filter) Match(fields map[string]any) bool {
	for i := range f {
		if !f[i].match(fields) {
			return false
		}
	}
	return true
}

func (c *Condition) match(fields map[string]any) bool {
	v, ok := fields[c.Field]
	if ok && v == nil {
		ok = false
	}
	if c.Op == OpExists {
		return ok == c.Value.(bool)
	}
	if !ok {
		return false
	}
	switch c.Op {
	case OpEq:
		return v == c.Value // operands are comparable scalars: an interface compare, type first
	case OpNe:
		return v != c.Value
	case OpIn:
		return slices.Contains(c.Value.([]any), v)
	case OpNotIn:
		return !slices.Contains(c.Value.([]any), v)
	}
	x, isNum := v.(float64)
	if !isNum {
		return false
	}
	y := c.Value.(float64)
	switch c.Op {
	case OpLt:
		return x < y
	case OpLte:
		return x <= y
	case OpGt:
		return x > y
	case OpGte:
		return x >= y
	}
	return false
}

// canonical renders the filter independently of key and operator order.
func (f Filter) canonical() string {
	parts := make([]string, len(f))
	for i, c := range f {
		parts[i] = c.Field + " " + string(c.Op) + " " + canonicalValue(c.Value)
	}
	slices.Sort(parts)
	return strings.Join(parts, " & ")
}

// filter parses a filter mapping: field → scalar (equality), list
// (membership) or a mapping of operators.
func (p *parser) filter(n *yaml.Node, what string) Filter {
	what += ": filter"
	if n.Kind != yaml.MappingNode {
		p.fail(n, "%s: want a mapping of field to value, list or operators", what)
		return nil
	}
	var out Filter
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := k.Value
		if line, dup := seen[field]; dup {
			p.fail(k, "%s: field %q is already given at line %d", what, field, line)
			continue
		}
		seen[field] = k.Line
		fd := p.schemaField(k, what, field)
		cw := fmt.Sprintf("%s: %s", what, field)
		switch v.Kind {
		case yaml.ScalarNode:
			out = p.condition(out, fd, cw, field, OpEq, v)
		case yaml.SequenceNode:
			out = p.condition(out, fd, cw, field, OpIn, v)
		case yaml.MappingNode:
			opsSeen := map[string]bool{}
			for j := 0; j+1 < len(v.Content); j += 2 {
				ok, ov := v.Content[j], v.Content[j+1]
				op := Op(ok.Value)
				if !slices.Contains(ops, op) {
					p.fail(ok, "%s: unknown operator %q (want one of eq, ne, lt, lte, gt, gte, in, not_in, exists)", cw, ok.Value)
					continue
				}
				if opsSeen[ok.Value] {
					p.fail(ok, "%s: operator %s is given twice", cw, op)
					continue
				}
				opsSeen[ok.Value] = true
				out = p.condition(out, fd, cw, field, op, ov)
			}
			if len(v.Content) == 0 {
				p.fail(v, "%s: the mapping of operators is empty", cw)
			}
		default:
			p.fail(v, "%s: want a value, a list or a mapping of operators", cw)
		}
	}
	return out
}

func (p *parser) condition(out Filter, fd *record.Field, what, field string, op Op, n *yaml.Node) Filter {
	c := Condition{Field: field, Op: op}
	switch op {
	case OpExists:
		v, ok := scalar(n)
		if b, isBool := v.(bool); ok && isBool {
			c.Value = b
		} else {
			p.fail(n, "%s: exists: want true or false", what)
			return out
		}
	case OpIn, OpNotIn:
		if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
			p.fail(n, "%s: %s: want a non-empty list of values", what, op)
			return out
		}
		list := make([]any, 0, len(n.Content))
		for _, e := range n.Content {
			v, ok := scalar(e)
			if !ok {
				p.fail(e, "%s: %s: want a list of strings, numbers or booleans", what, op)
				return out
			}
			if !p.fits(e, fd, what, v) {
				return out
			}
			list = append(list, v)
		}
		c.Value = list
	case OpLt, OpLte, OpGt, OpGte:
		v, ok := scalar(n)
		if _, isNum := v.(float64); !ok || !isNum {
			p.fail(n, "%s: %s: want a number", what, op)
			return out
		}
		if fd != nil && fd.Type != record.TypeNumber && fd.Type != record.TypeInteger {
			p.fail(n, "%s: %s compares numbers, but the field has type %s", what, op, fd.Type)
			return out
		}
		c.Value = v
	default: // eq, ne
		v, ok := scalar(n)
		if !ok {
			p.fail(n, "%s: %s: want a string, number or boolean", what, op)
			return out
		}
		if !p.fits(n, fd, what, v) {
			return out
		}
		c.Value = v
	}
	return append(out, c)
}

// fits checks an operand against the schema field's type, when known.
func (p *parser) fits(n *yaml.Node, fd *record.Field, what string, v any) bool {
	if fd == nil || operandFits(fd.Type, v) {
		return true
	}
	p.fail(n, "%s: %s cannot equal a value of field type %s", what, canonicalValue(v), fd.Type)
	return false
}

// operandFits reports whether a normalised field of type t can hold v.
func operandFits(t record.FieldType, v any) bool {
	switch v.(type) {
	case string:
		return t == record.TypeString || t == record.TypeTimestamp
	case float64:
		return t == record.TypeNumber || t == record.TypeInteger
	case bool:
		return t == record.TypeBoolean
	}
	return false
}
