# METADATA
# title: Large payment for its currency
# description: >-
#   A payment at or above the large-payment threshold set for its currency
#   (config large_payment.min_amount). Currencies without a threshold are not checked.
# custom:
#   severity: medium
#   action: review
#   mode: enforce
#   entity: customer_id
#   owner: payments-risk
#   tags: [payment, amount]
#   runbook: https://wiki.example.com/risk/large_payment
package risk.rules.large_payment

import data.risk.lib.money

hit := {
	"reason": sprintf("payment of %s is at or above the %s large-payment threshold", [
		money.text(r.amount, r.currency),
		money.text(threshold, r.currency),
	]),
	"amount": r.amount,
	"currency": r.currency,
	"threshold": threshold,
} if {
	input.record.type == "payment"
	r := input.record
	threshold := data.risk.config.large_payment.min_amount[r.currency]
	r.amount >= threshold
}
