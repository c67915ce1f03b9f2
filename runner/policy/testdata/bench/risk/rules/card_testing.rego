# METADATA
# title: Card testing burst
# custom:
#   severity: high
#   action: block
#   mode: enforce
#   entity: card_id
#   owner: payments-risk
package risk.rules.card_testing

hit := {"reason": sprintf("%d small authorisations in 1m", [n]), "count": n} if {
	input.record.type == "payment"
	n := input.features.card_small_auth_count_1m
	n >= 5
}
