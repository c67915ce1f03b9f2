package record

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Options adjust a schema for one deployment (they come from the runner
// config, record.*).
type Options struct {
	Unknown  Unknown           // "" = the schema's own unknown_fields
	Rename   map[string]string // input name → schema field name, applied before aliases (e.g. TX_AMOUNT → amount)
	Defaults map[string]any    // field → value when absent (e.g. type: payment for a CSV that has no type column)
}

// Normalizer validates and normalises decoded records against a schema and
// one deployment's Options. Everything it needs per record is worked out in
// NewNormalizer; afterwards it is read-only and safe for concurrent use.
type Normalizer struct {
	schema  *Schema
	unknown Unknown
	fields  []*Field
	inputs  map[string]input // every name a field may arrive under → that field
	names   [][]string       // field index → its input names, canonical first (for messages)
	fills   []fill           // fields with something to do when absent, in schema order
	timeIdx int
}

// input is one name a field may arrive under.
type input struct {
	idx   int  // index in Normalizer.fields
	alias bool // not the field's own name: the value moves to the field's name
}

// fill says what happens when a field is absent: its default, or an error.
type fill struct {
	idx      int
	value    any       // normalised default, nil when there is none
	time     time.Time // the default's time, when idx is the time field
	required bool
}

// NewNormalizer combines a schema with deployment options. It checks the
// options: unknown_fields must be keep, drop or reject, rename targets and
// default keys must be schema fields (or their aliases), and every default
// must normalise and pass its field's checks. Errors name the key.
func NewNormalizer(s *Schema, o Options) (*Normalizer, error) {
	if s == nil {
		return nil, errors.New("record: NewNormalizer needs a schema")
	}
	n := &Normalizer{
		schema:  s,
		unknown: s.Unknown,
		fields:  s.Fields,
		inputs:  make(map[string]input, len(s.byName)+len(o.Rename)),
		names:   make([][]string, len(s.Fields)),
		timeIdx: -1,
	}
	index := make(map[*Field]int, len(s.Fields))
	for i, f := range s.Fields {
		index[f] = i
		n.inputs[f.Name] = input{idx: i}
		for _, a := range f.Aliases {
			n.inputs[a] = input{idx: i, alias: true}
		}
		if f.Name == s.TimeField {
			n.timeIdx = i
		}
	}

	var errs []error
	if o.Unknown != "" {
		u, err := ParseUnknown(string(o.Unknown))
		if err != nil {
			errs = append(errs, fmt.Errorf("unknown_fields: %w", err))
		}
		n.unknown = u
	}
	// Renames win over the schema's names and aliases: rename {type: channel}
	// makes an input "type" the channel, whatever the schema calls type.
	for _, from := range slices.Sorted(maps.Keys(o.Rename)) {
		to := o.Rename[from]
		f, ok := s.Field(to)
		switch {
		case strings.TrimSpace(from) == "":
			errs = append(errs, fmt.Errorf("rename %q → %q: the input name is empty", from, to))
		case !ok:
			errs = append(errs, fmt.Errorf("rename %q: %q is not a field of the schema %s", from, to, s.File))
		default:
			n.inputs[from] = input{idx: index[f], alias: from != f.Name}
		}
	}
	for name, in := range n.inputs {
		n.names[in.idx] = append(n.names[in.idx], name)
	}
	for i, names := range n.names {
		own := n.fields[i].Name
		slices.SortFunc(names, func(a, b string) int {
			return cmp.Or(-cmp.Compare(boolInt(a == own), boolInt(b == own)), strings.Compare(a, b))
		})
	}

	defaults := make(map[int]any, len(o.Defaults))
	for _, key := range slices.Sorted(maps.Keys(o.Defaults)) {
		raw := o.Defaults[key]
		f, ok := s.Field(key)
		if !ok {
			errs = append(errs, fmt.Errorf("default %q: not a field of the schema %s", key, s.File))
			continue
		}
		v, err := f.normalize(raw)
		if err == nil {
			err = f.check(v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("default %q: %v", key, err))
			continue
		}
		defaults[index[f]] = v
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	for i, f := range n.fields {
		def, ok := defaults[i] // the deployment's default wins over the schema's
		if !ok {
			def = f.Default
		}
		if def == nil && !f.Required {
			continue
		}
		fl := fill{idx: i, value: def, required: f.Required}
		if def != nil && i == n.timeIdx {
			fl.time, _ = ParseTime(def) // def is normalised already
		}
		n.fills = append(n.fills, fl)
	}
	return n, nil
}

// Schema returns the schema records are normalised to.
func (n *Normalizer) Schema() *Schema { return n.schema }

// move is an input that arrived under another name than its field's.
type move struct {
	key      string
	idx      int
	v        any
	absent   bool
	conflict bool
}

// Normalize validates and normalises m in place (m becomes Record.Fields). It
// returns every problem found, not just the first, each naming the field, in
// schema order. A record with errors must not be used: Normalize then returns
// the zero Record.
//
// In order: config renames, then schema aliases, map input names to field
// names (one field given under two names is an error naming both); null, and
// "" for empty_as_null fields, mean absent; absent fields take the
// deployment's default, else the schema's, else are an error when required;
// every present field is normalised and checked; unknown fields are kept
// (numbers made float64), dropped or rejected.
func (n *Normalizer) Normalize(m map[string]any) (Record, []FieldError) {
	var (
		errs  []FieldError
		ts    time.Time
		buf   [8]move // renamed inputs, without a heap allocation for the usual few
		moves = buf[:0]
	)
	for k, v := range m {
		in, known := n.inputs[k]
		switch {
		case !known:
			errs = n.unknownField(m, k, v, errs)
		case in.alias:
			moves = append(moves, move{key: k, idx: in.idx, v: v})
		case absent(n.fields[in.idx], v):
			delete(m, k)
		default:
			nv, changed, err := n.value(in.idx, v, &ts)
			if err != nil {
				errs = append(errs, FieldError{Field: k, Reason: err.Error()})
			} else if changed {
				m[k] = nv
			}
		}
	}
	if len(moves) > 0 {
		errs = n.move(m, moves, &ts, errs)
	}
	for i := range n.fills {
		fl := &n.fills[i]
		name := n.fields[fl.idx].Name
		if _, ok := m[name]; ok {
			continue
		}
		switch {
		case fl.value != nil:
			m[name] = clone(fl.value)
			if fl.idx == n.timeIdx {
				ts = fl.time
			}
		case fl.required && !hasError(errs, name):
			errs = append(errs, FieldError{Field: name, Reason: "required field is missing"})
		}
	}
	if errs != nil {
		n.sortErrors(errs)
		return Record{}, errs
	}
	return Record{
		ID:     text(m[n.schema.IDField]),
		Type:   text(m[n.schema.TypeField]),
		Time:   ts,
		Fields: m,
	}, nil
}

// value normalises and checks one field's value; changed is false when v is
// already normal. It records the event time when idx is the time field.
func (n *Normalizer) value(idx int, v any, ts *time.Time) (any, bool, error) {
	f := n.fields[idx]
	nv, t, changed, err := f.convert(v)
	if err == nil {
		err = f.check(nv)
	}
	if err != nil {
		return nil, false, err
	}
	if idx == n.timeIdx {
		*ts = t
	}
	return nv, changed, nil
}

// move puts inputs that arrived under a renamed or aliased name under their
// field's name, after checking that no field was given twice.
func (n *Normalizer) move(m map[string]any, moves []move, ts *time.Time, errs []FieldError) []FieldError {
	// Take every value out before putting any back: renames may swap names
	// (rename: {type: channel, kind: type}).
	for i := range moves {
		delete(m, moves[i].key)
		moves[i].absent = absent(n.fields[moves[i].idx], moves[i].v)
	}
	for i := range moves {
		mv := &moves[i]
		if mv.absent || mv.conflict {
			continue
		}
		name := n.fields[mv.idx].Name
		_, own := m[name] // present only if it arrived under its own name
		given := 0
		for j := range moves {
			if !moves[j].absent && moves[j].idx == mv.idx {
				given++
			}
		}
		if !own && given == 1 {
			continue
		}
		keys := make([]string, 0, given+1)
		if own {
			keys = append(keys, name)
		}
		for j := range moves {
			if !moves[j].absent && moves[j].idx == mv.idx {
				moves[j].conflict = true
				keys = append(keys, moves[j].key)
			}
		}
		errs = append(errs, FieldError{Field: name, Reason: n.givenTwice(mv.idx, keys)})
	}
	for i := range moves {
		mv := &moves[i]
		if mv.absent || mv.conflict {
			continue
		}
		name := n.fields[mv.idx].Name
		nv, _, err := n.value(mv.idx, mv.v, ts)
		if err != nil {
			errs = append(errs, FieldError{Field: name, Reason: fmt.Sprintf("%v (given as %q)", err, mv.key)})
			continue
		}
		m[name] = nv
	}
	return errs
}

func (n *Normalizer) givenTwice(idx int, keys []string) string {
	order := n.names[idx]
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Compare(slices.Index(order, a), slices.Index(order, b))
	})
	quoted := make([]string, len(keys))
	for i, k := range keys {
		quoted[i] = strconv.Quote(k)
	}
	return "given more than once, as " + strings.Join(quoted, " and ")
}

func (n *Normalizer) unknownField(m map[string]any, k string, v any, errs []FieldError) []FieldError {
	if v == nil { // null is absent, whatever the field
		delete(m, k)
		return errs
	}
	switch n.unknown {
	case UnknownDrop:
		delete(m, k)
	case UnknownReject:
		errs = append(errs, FieldError{Field: k, Reason: "not a field of the schema (unknown_fields: reject)"})
	default:
		nv, changed, err := plain(v)
		if err != nil {
			errs = append(errs, FieldError{Field: k, Reason: err.Error()})
		} else if changed {
			m[k] = nv
		}
	}
	return errs
}

// resolve returns the field name an input name stands for, and whether the
// name is known at all. Decoders with a fixed header use it to rename once.
func (n *Normalizer) resolve(name string) (string, bool) {
	in, ok := n.inputs[name]
	if !ok {
		return name, false
	}
	return n.fields[in.idx].Name, true
}

// sortErrors orders errors by schema field, then unknown fields by name, so
// that the same bad record always gives the same dead letter.
func (n *Normalizer) sortErrors(errs []FieldError) {
	rank := func(name string) int {
		for i, f := range n.fields {
			if f.Name == name {
				return i
			}
		}
		return len(n.fields)
	}
	slices.SortStableFunc(errs, func(a, b FieldError) int {
		return cmp.Or(cmp.Compare(rank(a.Field), rank(b.Field)), strings.Compare(a.Field, b.Field), strings.Compare(a.Reason, b.Reason))
	})
}

// absent reports whether v counts as not given: null, or a blank string for
// an empty_as_null field.
func absent(f *Field, v any) bool {
	if v == nil {
		return true
	}
	if f.EmptyAsNull {
		if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
			return true
		}
	}
	return false
}

func hasError(errs []FieldError, field string) bool {
	for _, e := range errs {
		if e.Field == field {
			return true
		}
	}
	return false
}

// text renders the id or type of a record; both are strings in any sane schema.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
