// Package fastpath evaluates the rules of a compiled Rego policy in Go, with
// OPA's own semantics, so that most records never enter OPA's interpreter.
//
// Compile takes the modules as OPA compiled them (locals renamed, nested
// calls pulled out, := turned into =) and turns each target document (a
// rule's `hit`) into a plan of Go closures over a fragment of Rego:
// unification, references into input, into the bundle's data and into the
// locals, iteration over collections, calls to OPA's built-in functions
// (called through OPA's own implementations, topdown.GetBuiltin), calls to
// the policy's functions and complete rules, comprehensions, negation and
// else chains. Values are OPA's ast values throughout; comparisons are OPA's
// (ast.Compare, Term.Equal), collections iterate in OPA's order (arrays by
// index, objects and sets sorted), and complete rules, functions and object
// comprehensions raise conflicts where OPA would.
//
// A rule is planned in one of three modes:
//
//   - Compiled: every expression of the rule and of what it calls is in the
//     fragment. The rule is evaluated here, hit value included. An
//     evaluation that would fail in OPA with an error (a conflict, a panic
//     of a built-in) is not decided here: the outcome is NeedsOPA.
//   - Prefiltered: some expression is not in the fragment (`with`, `every`,
//     partial rules, non-deterministic built-ins ...). Each body is
//     evaluated here up to that expression, which is a necessary condition
//     for the body to succeed, and for it to raise an error, in OPA (OPA
//     evaluates a body's expressions in order and gives up at the first
//     that fails). When no body's prefix can succeed the rule does not
//     fire; otherwise the outcome is NeedsOPA.
//   - OPA: nothing can be said here (a default value, say); the outcome is
//     always NeedsOPA.
//
// Input is read lazily from Go values (Doc) and converted to ast values
// with ast.InterfaceToValue only where a rule looks, so a record that no
// rule fires on costs a few map lookups and comparisons. Data and complete
// rules that do not depend on input are evaluated by OPA once, at Compile
// (Options.Constant), and enter the plans as constants.
//
// The plans are checked against OPA by differential tests over fixtures,
// datasets, a million randomised records and a fuzz target
// (runner/policy/differential_test.go).
package fastpath
