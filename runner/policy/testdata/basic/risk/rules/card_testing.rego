# METADATA
# title: Card testing burst
# description: Many small authorisations on one card within a minute.
# custom:
#   severity: high
#   action: block
#   mode: enforce
#   entity: card_id
#   owner: payments-risk
#   tags: [card, velocity]
package risk.rules.card_testing

hit := {"reason": sprintf("%d small authorisations in 1m", [n]), "count": n, "window": "1m"} if {
	input.record.type == "payment"
	n := input.features.card_small_auth_count_1m
	n >= 5
}
