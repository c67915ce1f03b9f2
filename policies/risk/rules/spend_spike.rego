# METADATA
# title: Spend spike against the customer's own average
# description: >-
#   A payment at or above min_amount for its currency that is at least min_multiple
#   times the customer's average payment over the previous 30 days, when there are
#   at least min_earlier_payments of them to judge by. Reads customer_tx_count_30d
#   and customer_amount_avg_30d; they mix currencies if a customer pays in several.
# custom:
#   severity: medium
#   action: review
#   mode: enforce
#   entity: customer_id
#   owner: payments-risk
#   tags: [payment, amount, velocity]
#   runbook: https://wiki.example.com/risk/spend_spike
package risk.rules.spend_spike

import data.risk.lib.money

hit := {
	"reason": sprintf("payment of %s is %v times this customer's average of %s over %v earlier payments in 30 days (limit %v times)", [
		money.text(r.amount, r.currency),
		floor(multiple * 10) / 10,
		money.text(average, r.currency),
		earlier,
		config.min_multiple,
	]),
	"amount": r.amount,
	"currency": r.currency,
	"earlier_average": round(average * 100) / 100,
	"earlier_payments": earlier,
	"multiple": multiple,
} if {
	input.record.type == "payment"
	r := input.record
	config := data.risk.config.spend_spike
	r.amount >= config.min_amount[r.currency]

	# Both features include this payment; take it out to compare it with the
	# history alone, which a spike would otherwise inflate.
	n := input.features.customer_tx_count_30d
	earlier := n - 1
	earlier >= config.min_earlier_payments
	average := ((input.features.customer_amount_avg_30d * n) - r.amount) / earlier
	average > 0
	multiple := r.amount / average
	multiple >= config.min_multiple
}
