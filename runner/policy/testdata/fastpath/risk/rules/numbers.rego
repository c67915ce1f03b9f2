# METADATA
# title: numbers
# custom:
#   severity: low
#   action: review
#   mode: enforce
#   entity: id
#   owner: test
package risk.rules.numbers

hit := {"reason": sprintf("%v %v %v", [x, y, z])} if {
	input.record.n == 1
	x := input.record.amount * 3
	y := round(x)
	z := input.record.amount / 7
	input.record.amount == 1.0
}
