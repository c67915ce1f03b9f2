# METADATA
# title: High-risk merchant category above an amount
# description: >-
#   A payment at a merchant whose category code is on the high-risk list (gambling,
#   quasi-cash, money transfer, securities and crypto, direct marketing, ...)
#   at or above the amount set for its currency.
# custom:
#   severity: medium
#   action: review
#   mode: enforce
#   entity: card_id
#   owner: payments-risk
#   tags: [payment, merchant, amount]
#   runbook: https://wiki.example.com/risk/high_risk_mcc
package risk.rules.high_risk_mcc

import data.risk.lib.money

hit := {
	"reason": sprintf("payment of %s at a %s merchant (MCC %s) is at or above the %s high-risk category threshold", [
		money.text(r.amount, r.currency),
		category,
		r.mcc,
		money.text(threshold, r.currency),
	]),
	"mcc": r.mcc,
	"category": category,
	"amount": r.amount,
	"currency": r.currency,
	"threshold": threshold,
} if {
	input.record.type == "payment"
	r := input.record
	category := data.risk.lists.high_risk_mccs[r.mcc]
	threshold := data.risk.config.high_risk_mcc.min_amount[r.currency]
	r.amount >= threshold
}
