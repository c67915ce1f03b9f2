# METADATA
# title: Large withdrawal to a new destination
# description: >-
#   A withdrawal or transfer at or above the amount set for its currency sent to
#   a destination account this customer has never paid before: the typical
#   cash-out of a taken-over or mule account.
# custom:
#   severity: high
#   action: review
#   mode: enforce
#   entity: account_id
#   owner: aml
#   tags: [withdrawal, transfer, mule]
#   runbook: https://wiki.example.com/risk/withdrawal_new_destination
package risk.rules.withdrawal_new_destination

import data.risk.lib.money

hit := {
	"reason": sprintf("%s of %s to new destination %s is at or above the %s new-destination threshold", [
		r.type,
		money.text(r.amount, r.currency),
		destination,
		money.text(threshold, r.currency),
	]),
	"destination_account": destination,
	"amount": r.amount,
	"currency": r.currency,
	"threshold": threshold,
} if {
	input.record.type in {"withdrawal", "transfer"}
	r := input.record
	r.new_destination == true
	threshold := data.risk.config.withdrawal_new_destination.min_amount[r.currency]
	r.amount >= threshold

	# The flag alone is enough; the account number only makes the reason concrete.
	destination := object.get(r, "destination_account", "(account not given)")
}
