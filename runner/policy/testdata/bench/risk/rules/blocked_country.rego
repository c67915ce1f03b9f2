# METADATA
# title: Card from a blocked country
# custom:
#   severity: critical
#   action: block
#   mode: enforce
#   entity: card_id
#   owner: payments-risk
package risk.rules.blocked_country

hit := {"reason": sprintf("card country %s is blocked", [input.record.card_country])} if {
	input.record.card_country in data.risk.lists.blocked_countries
}
