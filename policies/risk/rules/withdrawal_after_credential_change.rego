# METADATA
# title: Withdrawal soon after a credential change
# description: >-
#   A withdrawal or transfer at or above the amount set for its currency by a
#   customer with at least min_credential_changes credential changes (password,
#   e-mail, phone, 2FA) in the last 24 hours (feature
#   customer_credential_change_count_24h): the cash-out that follows an account takeover.
# custom:
#   severity: high
#   action: review
#   mode: enforce
#   entity: customer_id
#   owner: identity-risk
#   tags: [withdrawal, transfer, ato, velocity]
#   runbook: https://wiki.example.com/risk/withdrawal_after_credential_change
package risk.rules.withdrawal_after_credential_change

import data.risk.lib.money

hit := {
	"reason": sprintf("%s of %s within 24 hours of a credential change (%v in 24 hours) is at or above the %s threshold", [
		r.type,
		money.text(r.amount, r.currency),
		changes,
		money.text(threshold, r.currency),
	]),
	"credential_changes": changes,
	"amount": r.amount,
	"currency": r.currency,
	"threshold": threshold,
} if {
	input.record.type in {"withdrawal", "transfer"}
	r := input.record
	config := data.risk.config.withdrawal_after_credential_change
	changes := input.features.customer_credential_change_count_24h
	changes >= config.min_credential_changes
	threshold := config.min_amount[r.currency]
	r.amount >= threshold
}
