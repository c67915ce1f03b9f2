# METADATA
# title: Card country differs from IP country on a card-not-present payment
# description: >-
#   An online, app, web or mail/telephone payment where the card was issued in one
#   country and the buyer's IP address is located in another.
# custom:
#   severity: medium
#   action: review
#   mode: enforce
#   entity: card_id
#   owner: payments-risk
#   tags: [payment, card, geo]
#   runbook: https://wiki.example.com/risk/card_ip_country_mismatch
package risk.rules.card_ip_country_mismatch

import data.risk.lib.record

hit := {
	"reason": sprintf("card-not-present (%s) payment with a card issued in %s from an IP located in %s", [
		r.channel,
		r.card_country,
		r.ip_country,
	]),
	"channel": r.channel,
	"card_country": r.card_country,
	"ip_country": r.ip_country,
} if {
	input.record.type == "payment"
	r := input.record
	record.card_not_present(r.channel)
	r.card_country != r.ip_country
}
