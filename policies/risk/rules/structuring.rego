# METADATA
# title: Amount just below the reporting threshold
# description: >-
#   A withdrawal or transfer within band_fraction below the currency's reporting
#   threshold, the pattern of splitting money to stay under it (structuring).
#   Shadow mode until its precision is proven on labelled history.
# custom:
#   severity: medium
#   action: review
#   mode: shadow
#   entity: account_id
#   owner: aml
#   tags: [aml, amount]
#   runbook: https://wiki.example.com/risk/structuring
package risk.rules.structuring

import data.risk.lib.money

hit := {
	"reason": sprintf("%s of %s is just below the %s reporting threshold (within %v%%)", [
		r.type,
		money.text(r.amount, r.currency),
		money.text(threshold, r.currency),
		config.band_fraction * 100,
	]),
	"amount": r.amount,
	"currency": r.currency,
	"reporting_threshold": threshold,
} if {
	input.record.type in {"withdrawal", "transfer"}
	r := input.record
	config := data.risk.config.structuring
	threshold := config.reporting_threshold[r.currency]
	r.amount < threshold
	r.amount >= threshold * (1 - config.band_fraction)
}
