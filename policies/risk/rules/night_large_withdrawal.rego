# METADATA
# title: Large withdrawal or transfer at night
# description: >-
#   A withdrawal or transfer at or above the amount set for its currency made
#   inside the night window [start_hour_utc, end_hour_utc), hours in UTC, when
#   account takeovers are cashed out while the owner sleeps.
# custom:
#   severity: high
#   action: review
#   mode: enforce
#   entity: account_id
#   owner: payments-risk
#   tags: [withdrawal, transfer, time, ato]
#   runbook: https://wiki.example.com/risk/night_large_withdrawal
package risk.rules.night_large_withdrawal

import data.risk.lib.eventtime
import data.risk.lib.money

hit := {
	"reason": sprintf("%s of %s at %s, inside the %02d:00-%02d:00 UTC night window, is at or above the %s night threshold", [
		r.type,
		money.text(r.amount, r.currency),
		eventtime.clock_text(r.ts),
		config.start_hour_utc,
		config.end_hour_utc,
		money.text(threshold, r.currency),
	]),
	"hour_utc": hour,
	"amount": r.amount,
	"currency": r.currency,
	"threshold": threshold,
} if {
	input.record.type in {"withdrawal", "transfer"}
	r := input.record
	config := data.risk.config.night_large_withdrawal
	threshold := config.min_amount[r.currency]
	r.amount >= threshold
	hour := eventtime.hour(r.ts)
	eventtime.in_hours(hour, config.start_hour_utc, config.end_hour_utc)
}
