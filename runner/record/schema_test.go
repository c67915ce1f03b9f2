package record

import (
	"os"
	"strings"
	"testing"
)

func TestParseShippedSchema(t *testing.T) {
	data, err := os.ReadFile("../../policies/schema.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSchema(data, "policies/schema.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := s.Field("transaction_id"); !ok || f.Name != "id" {
		t.Fatalf("alias transaction_id does not resolve to id: %+v", f)
	}
	if !s.HasField("amount") || s.HasField("transaction_id") {
		t.Fatal("HasField must know fields and not aliases")
	}
}

func TestParseSchemaErrors(t *testing.T) {
	base := "version: 1\nfields:\n  id: {type: string}\n  ts: {type: timestamp}\n  type: string\n"
	tests := []struct {
		name, doc, want string
	}{
		{"bad type", base + "  amount: {type: money}\n", `s.yaml:6: field "amount": type "money"`},
		{"unknown option", base + "  amount: {type: number, mni: 0}\n", `unknown option "mni"`},
		{"range on string", base + "  x: {type: string, min: 1}\n", `field "x": min and max apply`},
		{"bad pattern", base + "  x: {type: string, pattern: '('}\n", `field "x": pattern:`},
		{"enum of wrong type", base + "  x: {type: number, enum: [a]}\n", `field "x": enum value a: want number`},
		{"duplicate alias", base + "  x: {type: string, aliases: [id]}\n", `name "id" is already used by field "id" (line 3)`},
		{"missing time field", "version: 1\nfields:\n  id: string\n  type: string\n", `time_field: "ts" is not a field`},
		{"bad version", "version: 2\nfields: {}\n", "version: 2 is not supported"},
		{"unknown top key", "version: 1\nfeilds: {}\n", "feilds"},
		{"enum on an object", base + "  x: {type: object, enum: [a]}\n", `field "x": enum applies to string, number`},
		{"default out of range", base + "  x: {type: number, max: 3, default: 5}\n", "default 5: 5 is above the maximum 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSchema([]byte(tt.doc), "s.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
