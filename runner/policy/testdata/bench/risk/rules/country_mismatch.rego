# METADATA
# title: IP and card countries differ
# custom:
#   severity: medium
#   action: review
#   mode: enforce
#   entity: card_id
#   owner: payments-risk
package risk.rules.country_mismatch

hit := {"reason": sprintf("ip in %s, card from %s", [input.record.ip_country, input.record.card_country])} if {
	input.record.type == "payment"
	input.record.ip_country != input.record.card_country
	input.record.amount > 200
}
