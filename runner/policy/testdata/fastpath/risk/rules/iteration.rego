# METADATA
# title: iteration
# custom:
#   severity: medium
#   action: review
#   mode: enforce
#   entity: id
#   owner: test
package risk.rules.iteration

import data.risk.lib

hit := {"reason": concat(",", names), "total": total} if {
	lib.is_payment
	some item in input.record.items
	item.price > 100
	names := [sprintf("%v:%v", [i, it.name]) | some i, it in input.record.items; it.price > 50]
	total := sum([p | some it in input.record.items; p := it.price; is_number(p)])
}
