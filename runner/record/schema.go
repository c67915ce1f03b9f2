package record

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FieldType is the type a schema field is normalised to.
type FieldType string

const (
	TypeString    FieldType = "string"
	TypeNumber    FieldType = "number"
	TypeInteger   FieldType = "integer"
	TypeBoolean   FieldType = "boolean"
	TypeTimestamp FieldType = "timestamp"
	TypeObject    FieldType = "object"
	TypeArray     FieldType = "array"
)

func (t FieldType) valid() bool {
	switch t {
	case TypeString, TypeNumber, TypeInteger, TypeBoolean, TypeTimestamp, TypeObject, TypeArray:
		return true
	}
	return false
}

// Unknown says what happens to fields the schema does not list.
type Unknown string

const (
	UnknownKeep   Unknown = "keep"
	UnknownDrop   Unknown = "drop"
	UnknownReject Unknown = "reject"
)

// ParseUnknown accepts keep, drop or reject.
func ParseUnknown(s string) (Unknown, error) {
	switch Unknown(s) {
	case UnknownKeep, UnknownDrop, UnknownReject:
		return Unknown(s), nil
	}
	return "", fmt.Errorf("%q: want keep, drop or reject", s)
}

// Field is one field of the record schema (policies/schema.yaml).
type Field struct {
	Name        string
	Type        FieldType
	Required    bool
	Enum        []any // normalised values; strings, float64 or bool
	Min, Max    *float64
	Pattern     *regexp.Regexp
	MaxLength   int
	Aliases     []string
	Trim        bool
	Lower       bool
	Upper       bool
	Default     any
	EmptyAsNull bool
	Line        int // line in the schema file, for messages
}

// Schema describes a record: its fields and how to treat the rest.
type Schema struct {
	File      string
	Version   int
	Unknown   Unknown
	IDField   string
	TimeField string
	TypeField string
	Fields    []*Field          // in file order
	byName    map[string]*Field // name and every alias → field
}

// Field returns the field called name (or aliased so), if any.
func (s *Schema) Field(name string) (*Field, bool) {
	f, ok := s.byName[name]
	return f, ok
}

// HasField reports whether name is a field of the schema (not an alias).
func (s *Schema) HasField(name string) bool {
	f, ok := s.byName[name]
	return ok && f.Name == name
}

// SchemaError points at a line of the schema file.
type SchemaError struct {
	File string
	Line int
	Msg  string
}

func (e *SchemaError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

type schemaDoc struct {
	Version       int       `yaml:"version"`
	UnknownFields string    `yaml:"unknown_fields"`
	IDField       string    `yaml:"id_field"`
	TimeField     string    `yaml:"time_field"`
	TypeField     string    `yaml:"type_field"`
	Fields        yaml.Node `yaml:"fields"`
}

type fieldDoc struct {
	Type        string    `yaml:"type"`
	Required    bool      `yaml:"required"`
	Enum        []any     `yaml:"enum"`
	Min         *float64  `yaml:"min"`
	Max         *float64  `yaml:"max"`
	Pattern     string    `yaml:"pattern"`
	MaxLength   int       `yaml:"max_length"`
	Aliases     []string  `yaml:"aliases"`
	Trim        bool      `yaml:"trim"`
	Lower       bool      `yaml:"lower"`
	Upper       bool      `yaml:"upper"`
	Default     yaml.Node `yaml:"default"`
	EmptyAsNull bool      `yaml:"empty_as_null"`
}

// ParseSchema reads a schema document. Errors name the file and line.
func ParseSchema(data []byte, file string) (*Schema, error) {
	var doc schemaDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, yamlError(file, err)
	}
	s := &Schema{
		File:      file,
		Version:   doc.Version,
		Unknown:   UnknownKeep,
		IDField:   orDefault(doc.IDField, "id"),
		TimeField: orDefault(doc.TimeField, "ts"),
		TypeField: orDefault(doc.TypeField, "type"),
		byName:    map[string]*Field{},
	}
	if doc.Version != 1 {
		return nil, &SchemaError{file, 0, fmt.Sprintf("version: %d is not supported, want 1", doc.Version)}
	}
	if doc.UnknownFields != "" {
		u, err := ParseUnknown(doc.UnknownFields)
		if err != nil {
			return nil, &SchemaError{file, 0, "unknown_fields: " + err.Error()}
		}
		s.Unknown = u
	}
	if doc.Fields.Kind != yaml.MappingNode {
		return nil, &SchemaError{file, doc.Fields.Line, "fields: want a mapping of field name to options"}
	}
	for i := 0; i+1 < len(doc.Fields.Content); i += 2 {
		key, val := doc.Fields.Content[i], doc.Fields.Content[i+1]
		f, err := parseField(file, key, val)
		if err != nil {
			return nil, err
		}
		if err := s.add(f); err != nil {
			return nil, err
		}
	}
	for _, want := range []struct{ role, name string }{{"id_field", s.IDField}, {"time_field", s.TimeField}, {"type_field", s.TypeField}} {
		if !s.HasField(want.name) {
			return nil, &SchemaError{file, 0, fmt.Sprintf("%s: %q is not a field of the schema", want.role, want.name)}
		}
	}
	if f, _ := s.Field(s.TimeField); f.Type != TypeTimestamp {
		return nil, &SchemaError{file, f.Line, fmt.Sprintf("field %q: the time field must have type timestamp", f.Name)}
	}
	return s, nil
}

func (s *Schema) add(f *Field) error {
	for _, n := range append([]string{f.Name}, f.Aliases...) {
		if other, dup := s.byName[n]; dup {
			return &SchemaError{s.File, f.Line, fmt.Sprintf("field %q: name %q is already used by field %q (line %d)", f.Name, n, other.Name, other.Line)}
		}
		s.byName[n] = f
	}
	s.Fields = append(s.Fields, f)
	return nil
}

func parseField(file string, key, val *yaml.Node) (*Field, error) {
	name := key.Value
	fail := func(msg string, args ...any) error {
		return &SchemaError{file, key.Line, fmt.Sprintf("field %q: ", name) + fmt.Sprintf(msg, args...)}
	}
	if name == "" {
		return nil, &SchemaError{file, key.Line, "a field needs a name"}
	}
	var fd fieldDoc
	if val.Kind == yaml.ScalarNode && val.Tag == "!!str" {
		fd.Type = val.Value // shorthand: `name: string`
	} else {
		dec := val
		if err := decodeStrict(dec, &fd); err != nil {
			return nil, &SchemaError{file, val.Line, fmt.Sprintf("field %q: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))}
		}
	}
	f := &Field{
		Name: name, Type: FieldType(fd.Type), Required: fd.Required, Min: fd.Min, Max: fd.Max,
		MaxLength: fd.MaxLength, Aliases: fd.Aliases, Trim: fd.Trim, Lower: fd.Lower, Upper: fd.Upper,
		EmptyAsNull: fd.EmptyAsNull, Line: key.Line,
	}
	if !f.Type.valid() {
		return nil, fail("type %q: want string, number, integer, boolean, timestamp, object or array", fd.Type)
	}
	if len(fd.Enum) > 0 && (f.Type == TypeObject || f.Type == TypeArray) {
		return nil, fail("enum applies to string, number, integer, boolean and timestamp fields only")
	}
	if f.Lower && f.Upper {
		return nil, fail("lower and upper exclude each other")
	}
	if (f.Min != nil || f.Max != nil) && f.Type != TypeNumber && f.Type != TypeInteger {
		return nil, fail("min and max apply to number and integer fields only")
	}
	if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
		return nil, fail("min %v is above max %v", *f.Min, *f.Max)
	}
	if (fd.Pattern != "" || f.MaxLength > 0 || f.Trim || f.Lower || f.Upper) && f.Type != TypeString {
		return nil, fail("pattern, max_length, trim, lower and upper apply to string fields only")
	}
	if fd.Pattern != "" {
		re, err := regexp.Compile(fd.Pattern)
		if err != nil {
			return nil, fail("pattern: %v", err)
		}
		f.Pattern = re
	}
	if slices.Contains(f.Aliases, "") {
		return nil, fail("aliases: an alias cannot be empty")
	}
	for _, e := range fd.Enum {
		v, err := f.normalize(e)
		if err != nil {
			return nil, fail("enum value %v: %v", e, err)
		}
		f.Enum = append(f.Enum, v)
	}
	if fd.Default.Kind != 0 {
		var raw any
		if err := fd.Default.Decode(&raw); err != nil {
			return nil, fail("default: %v", err)
		}
		v, err := f.normalize(raw)
		if err != nil {
			return nil, fail("default %v: %v", raw, err)
		}
		if err := f.check(v); err != nil {
			return nil, fail("default %v: %v", raw, err)
		}
		f.Default = v
	}
	return f, nil
}

func decodeStrict(n *yaml.Node, out any) error {
	// yaml.Node.Decode has no KnownFields switch: re-encode the node and
	// decode it strictly so that a misspelt option is an error, not ignored.
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			// "line 1: field tpye not found in type record.fieldDoc" → "unknown option tpye"
			msg := te.Errors[0]
			if i := strings.Index(msg, "field "); i >= 0 && strings.Contains(msg, " not found in type") {
				opt := strings.TrimPrefix(msg[i:], "field ")
				opt = opt[:strings.Index(opt, " ")]
				return fmt.Errorf("unknown option %q", opt)
			}
			return errors.New(msg)
		}
		return err
	}
	return nil
}

func yamlError(file string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return &SchemaError{File: file, Msg: strings.Join(te.Errors, "; ")}
	}
	return &SchemaError{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
