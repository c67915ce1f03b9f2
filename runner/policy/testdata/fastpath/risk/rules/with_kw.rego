# METADATA
# title: with_kw
# custom:
#   severity: low
#   action: review
#   mode: enforce
#   entity: id
#   owner: test
package risk.rules.with_kw

import data.risk.lib

hit := {"reason": "with"} if {
	input.record.amount > 10
	lib.is_payment with input.record.type as "payment"
}
