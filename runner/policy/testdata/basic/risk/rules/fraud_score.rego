# METADATA
# title: High model fraud score
# custom:
#   severity: high
#   action: review
#   mode: enforce
#   entity: customer_id
#   owner: data-science
package risk.rules.fraud_score

hit := {"reason": sprintf("fraud_lr %v >= 0.9", [s]), "score": s} if {
	s := input.scores.fraud_lr
	s >= 0.9
}
