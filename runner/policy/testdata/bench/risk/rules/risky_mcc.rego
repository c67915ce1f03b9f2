# METADATA
# title: Large payment in a risky merchant category
# custom:
#   severity: high
#   action: review
#   mode: enforce
#   entity: merchant_id
#   owner: payments-risk
package risk.rules.risky_mcc

hit := {"reason": sprintf("mcc %s, amount %v", [input.record.mcc, input.record.amount])} if {
	input.record.mcc in data.risk.lists.risky_mcc
	input.record.amount > 500
}
