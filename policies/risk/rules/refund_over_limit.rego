# METADATA
# title: Refund above the limit
# description: >-
#   A refund at or above the amount set for its currency. Large refunds with no
#   matching sale are how colluding merchants and insiders move money out.
# custom:
#   severity: medium
#   action: review
#   mode: enforce
#   entity: merchant_id
#   owner: payments-risk
#   tags: [refund, merchant, amount]
#   runbook: https://wiki.example.com/risk/refund_over_limit
package risk.rules.refund_over_limit

import data.risk.lib.money

hit := {
	"reason": sprintf("refund of %s is at or above the %s refund limit", [
		money.text(r.amount, r.currency),
		money.text(limit, r.currency),
	]),
	"amount": r.amount,
	"currency": r.currency,
	"limit": limit,
} if {
	input.record.type == "refund"
	r := input.record
	limit := data.risk.config.refund_over_limit.min_amount[r.currency]
	r.amount >= limit
}
