# METADATA
# title: Large amount
# custom:
#   severity: medium
#   action: review
#   mode: enforce
#   entity: customer_id
#   owner: payments-risk
package risk.rules.big_amount

import data.risk.lib.money

hit := {"reason": sprintf("amount %v above %v", [input.record.amount, limit])} if {
	input.record.type == "payment"
	limit := money.limit(input.record.currency)
	input.record.amount > limit
}
