# METADATA
# title: Amount far above the customer's average
# custom:
#   severity: medium
#   action: review
#   mode: enforce
#   entity: customer_id
#   owner: payments-risk
package risk.rules.amount_spike

hit := {"reason": sprintf("amount %v is %.1fx the 7d average", [input.record.amount, ratio])} if {
	input.record.type == "payment"
	avg := input.features.customer_amount_avg_7d
	avg > 0
	ratio := input.record.amount / avg
	ratio > 5
}
