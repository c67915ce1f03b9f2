# METADATA
# title: builtins
# custom:
#   severity: medium
#   action: review
#   mode: enforce
#   entity: id
#   owner: test
package risk.rules.builtins

hit := {"reason": sprintf("%v %v %v", [n, parts, input.record.tags])} if {
	n := to_number(input.record.amount_str)
	n / input.record.n > 1
	parts := split(input.record.pair, ",")
	[a, b] := parts
	regex.match("^[a-z]+$", a)
	startswith(b, "x")
}
