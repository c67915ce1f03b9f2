# METADATA
# title: Card from a blocked country
# custom:
#   severity: critical
#   action: block
#   mode: enforce
#   entity: card_id
#   owner: compliance
package risk.rules.blocked_country

hit := {"reason": sprintf("card issued in blocked country %s", [input.record.card_country])} if {
	input.record.card_country in data.risk.lists.blocked_countries
}
