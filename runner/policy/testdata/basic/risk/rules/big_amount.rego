# METADATA
# title: Large amount
# description: One payment far above the usual size for its currency.
# custom:
#   severity: medium
#   action: review
#   mode: enforce
#   entity: customer_id
#   owner: payments-risk
#   tags: [amount]
#   runbook: https://wiki.example.com/risk/big-amount
package risk.rules.big_amount

import data.risk.lib.money

hit := {
	"reason": sprintf("amount %v %s is above the limit %v", [input.record.amount, input.record.currency, limit]),
	"amount": input.record.amount,
	"limit": limit,
} if {
	input.record.type == "payment"
	limit := money.limit(input.record.currency)
	input.record.amount > limit
}
