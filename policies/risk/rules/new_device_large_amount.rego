# METADATA
# title: Large amount from a new device of a known customer
# description: >-
#   A payment, withdrawal or transfer at or above the amount set for its currency,
#   from a device first seen for this customer at most max_device_age_seconds ago,
#   by a customer known for at least min_customer_age_days (features
#   customer_device_first_seen_age and customer_first_seen_age). The age limit is
#   not 0 because a takeover logs in on the new device before it pays. Brand-new
#   customers are left to new_account_large_amount.
# custom:
#   severity: high
#   action: review
#   mode: enforce
#   entity: customer_id
#   owner: identity-risk
#   tags: [device, amount, ato, velocity]
#   runbook: https://wiki.example.com/risk/new_device_large_amount
package risk.rules.new_device_large_amount

import data.risk.lib.money

_seconds_per_day := 86400

hit := {
	"reason": sprintf("%s of %s from device %s %s, for a customer known for %v days, is at or above the %s threshold", [
		r.type,
		money.text(r.amount, r.currency),
		r.device_id,
		_device_age_text(device_age),
		floor(customer_age / _seconds_per_day),
		money.text(threshold, r.currency),
	]),
	"device_age_seconds": device_age,
	"amount": r.amount,
	"currency": r.currency,
	"threshold": threshold,
} if {
	input.record.type in {"payment", "withdrawal", "transfer"}
	r := input.record
	config := data.risk.config.new_device_large_amount
	threshold := config.min_amount[r.currency]
	r.amount >= threshold
	device_age := input.features.customer_device_first_seen_age
	device_age <= config.max_device_age_seconds
	customer_age := input.features.customer_first_seen_age
	customer_age >= config.min_customer_age_days * _seconds_per_day
}

_device_age_text(age) := "seen for the first time" if {
	age == 0
} else := sprintf("first seen %v seconds ago", [age])
