# METADATA
# title: Customer transaction velocity
# custom:
#   severity: medium
#   action: review
#   mode: enforce
#   entity: customer_id
#   owner: payments-risk
package risk.rules.customer_velocity

hit := {"reason": sprintf("%d transactions in 1h", [n])} if {
	n := input.features.customer_txn_count_1h
	n > 20
}
