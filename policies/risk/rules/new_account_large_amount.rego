# METADATA
# title: Large amount from a newly opened account
# description: >-
#   A payment, withdrawal or transfer at or above the amount set for its currency
#   from an account opened fewer than max_account_age_days before the event.
# custom:
#   severity: high
#   action: review
#   mode: enforce
#   entity: customer_id
#   owner: payments-risk
#   tags: [account, amount, onboarding]
#   runbook: https://wiki.example.com/risk/new_account_large_amount
package risk.rules.new_account_large_amount

import data.risk.lib.eventtime
import data.risk.lib.money

hit := {
	"reason": sprintf("%s of %s from an account opened %v days earlier (under %v) is at or above the %s new-account threshold", [
		r.type,
		money.text(r.amount, r.currency),
		floor(age_days * 10) / 10,
		config.max_account_age_days,
		money.text(threshold, r.currency),
	]),
	"account_age_days": age_days,
	"amount": r.amount,
	"currency": r.currency,
	"threshold": threshold,
} if {
	input.record.type in {"payment", "withdrawal", "transfer"}
	r := input.record
	config := data.risk.config.new_account_large_amount
	threshold := config.min_amount[r.currency]
	r.amount >= threshold

	# Clock skew between systems can date the account just after the event.
	age_days := max([eventtime.days_between(r.account_created_at, r.ts), 0])
	age_days < config.max_account_age_days
}
