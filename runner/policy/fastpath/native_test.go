package fastpath

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// The native shortcuts must answer exactly what OPA answers on the
// converted values; these tests hold them to it value by value.

var numberConstants = []string{
	"0", "-0", "1", "1.0", "0.1", "0.10", "5000", "5000.0", "5000.000000000000000001", "4999.999999999999999",
	"1e21", "1E21", "1e+21", "123456789012345678901234567890", "9007199254740993", "9007199254740992",
	"-7.25", "1e-7", "0.000001", "2.5e-324", "1e308", "1e400", "-1e400", "0.30000000000000004", "0.3",
}

func floats(r *rand.Rand) []float64 {
	out := []float64{0, math.Copysign(0, -1), 1, 0.1, 0.3, 0.1 + 0.2, 5000, 4999.999999999999, 1e21, 1e-7, 1e-6,
		9007199254740992, 9007199254740993, -7.25, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(1), math.NaN()}
	for _, c := range numberConstants {
		if f, err := strconv.ParseFloat(c, 64); err == nil {
			out = append(out, f, math.Nextafter(f, math.Inf(1)), math.Nextafter(f, math.Inf(-1)))
		}
	}
	for range 200 {
		out = append(out, r.NormFloat64()*math.Pow(10, float64(r.IntN(30)-10)))
	}
	return out
}

func TestConstantCompareIsOPAs(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var constants []*ast.Term
	for _, c := range numberConstants {
		constants = append(constants, ast.NumberTerm(json.Number(c)))
	}
	constants = append(constants, ast.StringTerm("payment"), ast.StringTerm(""), ast.BooleanTerm(true), ast.BooleanTerm(false), ast.NullTerm())
	var values []any
	for _, f := range floats(r) {
		values = append(values, f)
	}
	values = append(values, "payment", "paymenu", "", "\xff", true, false, nil, []any{1.0}, map[string]any{"a": 1.0}, json.Number("5000"), 3)
	answered := 0
	for _, k := range constants {
		c := newConstant(k)
		for _, x := range values {
			got, ok := c.compare(x)
			if f, isFloat := x.(float64); isFloat && (math.IsNaN(f) || math.IsInf(f, 0)) && c.kind == kindNumber {
				// OPA's number comparison cannot parse them (it panics): no shortcut.
				if ok {
					t.Errorf("compare(%v, %v) answered for a number OPA cannot hold", f, k)
				}
				continue
			}
			if !ok {
				continue
			}
			answered++
			v, err := ast.InterfaceToValue(x)
			if err != nil {
				t.Fatal(err)
			}
			if want := v.Compare(k.Value); sign(got) != sign(want) {
				t.Errorf("compare(%#v, %v) = %d, OPA says %d", x, k, got, want)
			}
		}
	}
	if answered < len(constants)*len(values)/2 {
		t.Errorf("the shortcut answered only %d of %d comparisons", answered, len(constants)*len(values))
	}
}

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

func TestLookupIsTermGet(t *testing.T) {
	values := []any{
		map[string]any{"a": 1.0, "b": map[string]any{"c": "x"}, "": nil},
		map[string]float64{"lr": 0.5},
		[]any{"x", 2.0, []any{}},
		"string", 1.0, true, nil, json.Number("7"), 3, map[string]string{"k": "v"},
	}
	keys := []*ast.Term{ast.StringTerm("a"), ast.StringTerm("b"), ast.StringTerm(""), ast.StringTerm("lr"), ast.StringTerm("k"),
		ast.IntNumberTerm(0), ast.IntNumberTerm(1), ast.IntNumberTerm(2), ast.IntNumberTerm(-1), ast.NumberTerm("1.0"),
		ast.NumberTerm("1e0"), ast.BooleanTerm(true), ast.NullTerm()}
	for _, v := range values {
		whole, err := toValue(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			got, ok := lookup(v, k)
			want := ast.NewTerm(whole).Get(k)
			if ok != (want != nil) {
				t.Errorf("lookup(%#v, %v): found %v, OPA %v", v, k, ok, want)
				continue
			}
			if !ok {
				continue
			}
			gv, err := toValue(got)
			if err != nil {
				t.Fatal(err)
			}
			if gv.Compare(want.Value) != 0 {
				t.Errorf("lookup(%#v, %v) = %v, OPA %v", v, k, gv, want)
			}
		}
	}
}

func TestCIDRMatcherIsOPAs(t *testing.T) {
	opa := topdown.GetBuiltin(ast.NetCIDRContainsMatches.Name)
	collections := []*ast.Term{
		ast.SetTerm(ast.StringTerm("10.0.0.0/8"), ast.StringTerm("192.168.1.0/24"), ast.StringTerm("2001:db8::/32"), ast.StringTerm("10.1.0.0/16")),
		ast.ArrayTerm(ast.StringTerm("0.0.0.0/0"), ast.StringTerm("::/0")),
		ast.ObjectTerm([2]*ast.Term{ast.StringTerm("a"), ast.StringTerm("172.16.0.0/12")}, [2]*ast.Term{ast.StringTerm("b"), ast.StringTerm("::ffff:0:0/96")}),
	}
	ips := []string{"10.1.2.3", "10.2.0.1", "192.168.1.255", "192.168.2.1", "2001:db8::1", "2001:db9::1", "::ffff:10.1.2.3",
		"172.16.5.4", "8.8.8.8", "not an ip", "10.0.0.0/16", "", "1.2.3.4.5", "::1"}
	for _, coll := range collections {
		fast, ok := cidrMatcher(coll, opa)
		if !ok {
			t.Fatalf("no matcher for %v", coll)
		}
		for _, ip := range ips {
			want, wantErr := callBuiltin(opa, coll, ast.StringTerm(ip))
			got, gotErr := callBuiltin(fast, coll, ast.StringTerm(ip))
			if (wantErr != nil) != (gotErr != nil) || (want == nil) != (got == nil) || (want != nil && !want.Equal(got)) {
				t.Errorf("%v contains %q: %v (%v), OPA %v (%v)", coll, ip, got, gotErr, want, wantErr)
			}
		}
	}
	if _, ok := cidrMatcher(ast.SetTerm(ast.StringTerm("bogus")), opa); ok {
		t.Error("a list with an invalid CIDR must be left to OPA's implementation")
	}
}

func callBuiltin(f topdown.BuiltinFunc, args ...*ast.Term) (*ast.Term, error) {
	var out *ast.Term
	err := f(topdown.BuiltinContext{}, append(args, ast.VarTerm("out")), func(t *ast.Term) error {
		out = t
		return nil
	})
	return out, err
}
