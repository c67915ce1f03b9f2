# METADATA
# title: High model fraud score
# custom:
#   severity: high
#   action: review
#   mode: enforce
#   entity: customer_id
#   owner: payments-risk
package risk.rules.fraud_score

hit := {"reason": sprintf("fraud_lr %v", [s]), "score": s} if {
	s := input.scores.fraud_lr
	s >= 0.9
}
