package record

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNormalize(t *testing.T) {
	const base = `"id": "t-1", "ts": "2026-01-02T03:04:05Z", "type": "payment"`
	clean := map[string]any{"id": "t-1", "ts": "2026-01-02T03:04:05Z", "type": "payment"}
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range clean {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
				continue
			}
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		opts Options
		in   string
		want map[string]any // nil when errs are expected
		errs []FieldError
	}{
		{name: "clean record passes", in: `{` + base + `, "amount": 12.5}`, want: with("amount", 12.5)},
		// Timestamps.
		{name: "epoch seconds", in: `{"id": "t-1", "ts": 1767323045, "type": "payment"}`, want: clean},
		{name: "epoch seconds with fraction", in: `{"id": "t-1", "ts": 1767323045.25, "type": "payment"}`, want: with("ts", "2026-01-02T03:04:05.25Z")},
		{name: "epoch milliseconds", in: `{"id": "t-1", "ts": 1767323045123, "type": "payment"}`, want: with("ts", "2026-01-02T03:04:05.123Z")},
		{name: "epoch seconds as string", in: `{"id": "t-1", "ts": "1767323045", "type": "payment"}`, want: clean},
		{name: "epoch milliseconds as string", in: `{"id": "t-1", "ts": " 1767323045000 ", "type": "payment"}`, want: clean},
		{name: "RFC 3339 with positive offset", in: `{"id": "t-1", "ts": "2026-01-02T05:04:05+02:00", "type": "payment"}`, want: clean},
		{name: "RFC 3339 with negative offset and fraction", in: `{"id": "t-1", "ts": "2026-01-01T22:04:05.5-05:00", "type": "payment"}`, want: with("ts", "2026-01-02T03:04:05.5Z")},
		{name: "space-separated UTC as pandas writes it", in: `{"id": "t-1", "ts": "2026-01-02 03:04:05", "type": "payment"}`, want: clean},
		{name: "timestamp not a time", in: `{"id": "t-1", "ts": "yesterday", "type": "payment"}`,
			errs: []FieldError{{"ts", `want timestamp (RFC 3339 or epoch seconds/milliseconds), got "yesterday"`}}},
		{name: "negative epoch", in: `{"id": "t-1", "ts": -5, "type": "payment"}`,
			errs: []FieldError{{"ts", "want a non-negative epoch timestamp, got -5"}}},
		{name: "timestamp of wrong type", in: `{"id": "t-1", "ts": true, "type": "payment"}`,
			errs: []FieldError{{"ts", "want timestamp, got boolean true"}}},
		// Numbers.
		{name: "numeric strings", in: `{` + base + `, "amount": "12.50", "count": " 3 "}`, want: with("amount", 12.5, "count", 3.0)},
		{name: "integer written as float", in: `{` + base + `, "count": 3.0}`, want: with("count", 3.0)},
		{name: "integer with fraction", in: `{` + base + `, "count": 2.5}`, errs: []FieldError{{"count", "want integer, got 2.5"}}},
		{name: "not a number", in: `{` + base + `, "amount": "12,50"}`, errs: []FieldError{{"amount", `want number, got "12,50"`}}},
		{name: "hex is not a number", in: `{` + base + `, "amount": "0x1p4"}`, errs: []FieldError{{"amount", `want number, got "0x1p4"`}}},
		{name: "number out of float range", in: `{` + base + `, "amount": 1e400}`, errs: []FieldError{{"amount", "number 1e400 is out of range"}}},
		{name: "below min", in: `{` + base + `, "amount": -0.01}`, errs: []FieldError{{"amount", "-0.01 is below the minimum 0"}}},
		{name: "above max", in: `{` + base + `, "amount": "1000.5"}`, errs: []FieldError{{"amount", "1000.5 is above the maximum 1000"}}},
		{name: "at max", in: `{` + base + `, "amount": 1000}`, want: with("amount", 1000.0)},
		// Strings.
		{name: "trim and lower", in: `{"id": "  t-1 ", "ts": "2026-01-02T03:04:05Z", "type": " PAYMENT "}`, want: clean},
		{name: "trim and upper", in: `{` + base + `, "code": " eur "}`, want: with("code", "EUR")},
		{name: "pattern", in: `{` + base + `, "code": "EURO"}`, errs: []FieldError{{"code", `"EURO" does not match pattern ^[A-Z]{3}$`}}},
		{name: "max_length", in: `{"id": "123456789012345678901", "ts": "2026-01-02T03:04:05Z", "type": "payment"}`,
			errs: []FieldError{{"id", "21 bytes is longer than max_length 20"}}},
		{name: "enum", in: `{"id": "t-1", "ts": "2026-01-02T03:04:05Z", "type": "Refund"}`,
			errs: []FieldError{{"type", `"refund" is not one of [payment, login]`}}},
		{name: "number for a string field keeps its text", in: `{"id": 12345678901234567, "ts": "2026-01-02T03:04:05Z", "type": "payment"}`,
			want: with("id", "12345678901234567")},
		{name: "object for a string field", in: `{"id": {}, "ts": "2026-01-02T03:04:05Z", "type": "payment"}`,
			errs: []FieldError{{"id", "want string, got object"}}},
		// Booleans.
		{name: "boolean from 1", in: `{` + base + `, "ok": "1"}`, want: with("ok", true)},
		{name: "boolean from 0", in: `{` + base + `, "ok": "0"}`, want: with("ok", false)},
		{name: "boolean from number 1", in: `{` + base + `, "ok": 1}`, want: with("ok", true)},
		{name: "boolean from TRUE", in: `{` + base + `, "ok": "TRUE"}`, want: with("ok", true)},
		{name: "boolean from 2", in: `{` + base + `, "ok": 2}`, errs: []FieldError{{"ok", "want boolean, got number 2"}}},
		{name: "boolean from maybe", in: `{` + base + `, "ok": "maybe"}`, errs: []FieldError{{"ok", `want boolean, got "maybe"`}}},
		// Objects and arrays become plain Go values.
		{name: "object and array numbers become float64", in: `{` + base + `, "meta": {"n": 1, "deep": [2, {"x": 3}]}, "tags": ["a", 4]}`,
			want: with("meta", map[string]any{"n": 1.0, "deep": []any{2.0, map[string]any{"x": 3.0}}}, "tags", []any{"a", 4.0})},
		{name: "object of wrong type", in: `{` + base + `, "meta": [1]}`, errs: []FieldError{{"meta", "want object, got array"}}},
		{name: "array of wrong type", in: `{` + base + `, "tags": "a,b"}`, errs: []FieldError{{"tags", `want array, got "a,b"`}}},
		{name: "nested number out of range", in: `{` + base + `, "meta": {"a": [1, 1e999]}}`, errs: []FieldError{{"meta", "a: [1]: number 1e999 is out of range"}}},
		// Absent values, required fields and defaults.
		{name: "null is absent", in: `{` + base + `, "amount": null}`, want: clean},
		{name: "empty_as_null", in: `{` + base + `, "note": ""}`, want: clean},
		{name: "empty_as_null blank", in: `{` + base + `, "note": "  "}`, want: clean},
		{name: "empty string kept without empty_as_null", in: `{` + base + `, "code": ""}`, errs: []FieldError{{"code", `"" does not match pattern ^[A-Z]{3}$`}}},
		{name: "required missing", in: `{"amount": 1}`, errs: []FieldError{{"id", "required field is missing"}, {"ts", "required field is missing"}}},
		{name: "required null", in: `{"id": null, "ts": "2026-01-02T03:04:05Z"}`, errs: []FieldError{{"id", "required field is missing"}}},
		{name: "schema default", in: `{"id": "t-1", "ts": "2026-01-02T03:04:05Z"}`, want: clean},
		{name: "options default wins over the schema's", opts: Options{Defaults: map[string]any{"type": "LOGIN"}},
			in: `{"id": "t-1", "ts": "2026-01-02T03:04:05Z"}`, want: with("type", "login")},
		{name: "default does not override a value", opts: Options{Defaults: map[string]any{"amount": 5}},
			in: `{` + base + `, "amount": 7}`, want: with("amount", 7.0)},
		{name: "default fills a null", opts: Options{Defaults: map[string]any{"amount": 5}},
			in: `{` + base + `, "amount": null}`, want: with("amount", 5.0)},
		{name: "every problem, in schema order", in: `{"ts": "soon", "type": "x", "amount": -1, "ok": "?"}`,
			errs: []FieldError{
				{"id", "required field is missing"},
				{"ts", `want timestamp (RFC 3339 or epoch seconds/milliseconds), got "soon"`},
				{"type", `"x" is not one of [payment, login]`},
				{"amount", "-1 is below the minimum 0"},
				{"ok", `want boolean, got "?"`},
			}},
		// Aliases and renames.
		{name: "aliases", in: `{"event_id": "t-1", "timestamp": 1767323045, "type": "payment"}`, want: clean},
		{name: "name and alias", in: `{` + base + `, "event_id": "t-2"}`, errs: []FieldError{{"id", `given more than once, as "id" and "event_id"`}}},
		{name: "two aliases", in: `{"event_id": "t-1", "txn": "t-2", "ts": "2026-01-02T03:04:05Z"}`,
			errs: []FieldError{{"id", `given more than once, as "event_id" and "txn"`}}},
		{name: "null alias does not clash", in: `{` + base + `, "event_id": null}`, want: clean},
		{name: "rename", opts: Options{Rename: map[string]string{"TX_AMOUNT": "amount", "TX_ID": "id"}},
			in: `{"TX_ID": "t-1", "ts": "2026-01-02T03:04:05Z", "TX_AMOUNT": "4.5"}`, want: with("amount", 4.5)},
		{name: "rename clashes with the field's name", opts: Options{Rename: map[string]string{"TX_AMOUNT": "amount"}},
			in: `{` + base + `, "amount": 1, "TX_AMOUNT": 2}`, errs: []FieldError{{"amount", `given more than once, as "amount" and "TX_AMOUNT"`}}},
		{name: "rename to an alias", opts: Options{Rename: map[string]string{"when": "timestamp"}},
			in: `{"id": "t-1", "when": 1767323045}`, want: clean},
		{name: "rename applies before aliases", opts: Options{Rename: map[string]string{"timestamp": "note"}},
			in: `{` + base + `, "timestamp": "hello"}`, want: with("note", "hello")},
		{name: "renames may swap names", opts: Options{Rename: map[string]string{"type": "code", "kind": "type"}},
			in: `{"id": "t-1", "ts": "2026-01-02T03:04:05Z", "type": "usd", "kind": "LOGIN"}`, want: with("type", "login", "code", "USD")},
		{name: "renamed value of wrong type", opts: Options{Rename: map[string]string{"TX_AMOUNT": "amount"}},
			in: `{` + base + `, "TX_AMOUNT": "lots"}`, errs: []FieldError{{"amount", `want number, got "lots" (given as "TX_AMOUNT")`}}},
		// Unknown fields.
		{name: "unknown kept as plain values", in: `{` + base + `, "extra": {"n": 1}, "big": 12345678901234567890, "s": "x"}`,
			want: with("extra", map[string]any{"n": 1.0}, "big", 12345678901234567890.0, "s", "x")},
		{name: "unknown null dropped", in: `{` + base + `, "extra": null}`, want: clean},
		{name: "unknown dropped", opts: Options{Unknown: UnknownDrop}, in: `{` + base + `, "extra": 1, "more": "x"}`, want: clean},
		{name: "unknown rejected", opts: Options{Unknown: UnknownReject}, in: `{` + base + `, "zeta": 1, "alpha": "x"}`,
			errs: []FieldError{{"alpha", "not a field of the schema (unknown_fields: reject)"}, {"zeta", "not a field of the schema (unknown_fields: reject)"}}},
	}
	s := parseTestSchema(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNormalizer(t, s, tt.opts)
			m := decodeJSON(t, tt.in)
			rec, errs := n.Normalize(m)
			if !reflect.DeepEqual(errs, tt.errs) {
				t.Fatalf("errors\n got %q\nwant %q", errs, tt.errs)
			}
			if tt.errs != nil {
				if rec.Fields != nil || rec.ID != "" {
					t.Fatalf("a record with errors must be the zero Record, got %+v", rec)
				}
				return
			}
			if !reflect.DeepEqual(rec.Fields, tt.want) {
				t.Fatalf("fields\n got %#v\nwant %#v", rec.Fields, tt.want)
			}
			if reflect.ValueOf(rec.Fields).Pointer() != reflect.ValueOf(m).Pointer() {
				t.Fatal("Normalize must work in place: Record.Fields is the map it was given")
			}
			wantTime, err := time.Parse(time.RFC3339Nano, tt.want["ts"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if rec.ID != tt.want["id"] || rec.Type != tt.want["type"] || !rec.Time.Equal(wantTime) || rec.Time.Location() != time.UTC {
				t.Fatalf("Record ID/Type/Time = %q/%q/%v, want %v/%v/%v UTC", rec.ID, rec.Type, rec.Time, tt.want["id"], tt.want["type"], wantTime)
			}
		})
	}
}

func TestNormalizeTimeFromDefault(t *testing.T) {
	s := parseTestSchema(t)
	n := newNormalizer(t, s, Options{Defaults: map[string]any{"ts": "2026-01-02T05:04:05+02:00"}})
	rec, errs := n.Normalize(map[string]any{"id": "t-1"})
	if errs != nil {
		t.Fatal(errs)
	}
	if want := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC); !rec.Time.Equal(want) || rec.Fields["ts"] != "2026-01-02T03:04:05Z" {
		t.Fatalf("time %v / %v, want %v from the default", rec.Time, rec.Fields["ts"], want)
	}
}

func TestDefaultsAreNotShared(t *testing.T) {
	s := parseTestSchema(t)
	n := newNormalizer(t, s, Options{Defaults: map[string]any{"meta": map[string]any{"k": "v"}}})
	a, errs := n.Normalize(map[string]any{"id": "a", "ts": "2026-01-02T03:04:05Z"})
	if errs != nil {
		t.Fatal(errs)
	}
	a.Fields["meta"].(map[string]any)["k"] = "changed"
	b, _ := n.Normalize(map[string]any{"id": "b", "ts": "2026-01-02T03:04:05Z"})
	if got := b.Fields["meta"].(map[string]any)["k"]; got != "v" {
		t.Fatalf("a default object is shared between records: got %v", got)
	}
}

func TestNewNormalizerErrors(t *testing.T) {
	s := parseTestSchema(t)
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{"bad unknown", Options{Unknown: "ignore"}, []string{`unknown_fields: "ignore": want keep, drop or reject`}},
		{"rename to no field", Options{Rename: map[string]string{"TX_AMOUNT": "amout"}}, []string{`rename "TX_AMOUNT": "amout" is not a field of the schema test.yaml`}},
		{"rename from nothing", Options{Rename: map[string]string{" ": "amount"}}, []string{`rename " " → "amount": the input name is empty`}},
		{"default for no field", Options{Defaults: map[string]any{"currency": "EUR"}}, []string{`default "currency": not a field of the schema test.yaml`}},
		{"default of wrong type", Options{Defaults: map[string]any{"amount": "lots"}}, []string{`default "amount": want number, got "lots"`}},
		{"default failing a check", Options{Defaults: map[string]any{"code": "euro"}}, []string{`default "code": "EURO" does not match pattern`}},
		{"every problem", Options{Rename: map[string]string{"a": "b"}, Defaults: map[string]any{"type": "refund"}},
			[]string{`rename "a": "b" is not`, `default "type": "refund" is not one of [payment, login]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewNormalizer(s, tt.opts)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if _, err := NewNormalizer(nil, Options{}); err == nil {
		t.Error("NewNormalizer(nil) gave no error")
	}
}

func TestNormalizeShippedSchemaFDHOptions(t *testing.T) {
	n := newNormalizer(t, shippedSchema(t), fdhOptions())
	if n.Schema().File != "policies/schema.yaml" {
		t.Fatalf("Schema() = %q", n.Schema().File)
	}
	m := map[string]any{"TRANSACTION_ID": "7", "TX_DATETIME": "2018-04-01T00:09:29Z", "CUSTOMER_ID": "4128",
		"TERMINAL_ID": "8737", "TX_AMOUNT": "64.49", "TX_TIME_SECONDS": "569", "TX_FRAUD": "1"}
	rec, errs := n.Normalize(m)
	if errs != nil {
		t.Fatal(errs)
	}
	want := map[string]any{"id": "7", "ts": "2018-04-01T00:09:29Z", "customer_id": "4128", "terminal_id": "8737",
		"amount": 64.49, "TX_TIME_SECONDS": "569", "fraud": true, "type": "payment", "currency": "EUR"}
	if !reflect.DeepEqual(rec.Fields, want) {
		t.Fatalf("got %#v\nwant %#v", rec.Fields, want)
	}
}

// TestNormalizeConcurrent runs one Normalizer from many goroutines; with
// -race it proves that Normalize shares no mutable state.
func TestNormalizeConcurrent(t *testing.T) {
	n := newNormalizer(t, shippedSchema(t), fdhOptions())
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				id := fmt.Sprint(g*1000 + i)
				rec, errs := n.Normalize(map[string]any{"TRANSACTION_ID": id, "TX_DATETIME": "2018-04-01 00:09:29",
					"TX_AMOUNT": "1.5", "transaction_id": nil, "x": "y"})
				if errs != nil || rec.ID != id || rec.Fields["amount"] != 1.5 {
					t.Errorf("goroutine %d: %+v %v", g, rec, errs)
					return
				}
			}
		})
	}
	wg.Wait()
}

func fdhOptions() Options {
	return Options{
		Rename: map[string]string{"TRANSACTION_ID": "id", "TX_DATETIME": "ts", "CUSTOMER_ID": "customer_id",
			"TERMINAL_ID": "terminal_id", "TX_AMOUNT": "amount", "TX_FRAUD": "fraud"},
		Defaults: map[string]any{"type": "payment", "currency": "EUR"},
	}
}
