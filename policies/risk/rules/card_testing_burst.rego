# METADATA
# title: Card testing burst
# description: >-
#   Many small payments on one card within minutes: a fraudster checking which
#   stolen card numbers work before spending with them. Counts come from the
#   features card_small_payment_count_1m and _10m (this payment included); the
#   payment that reaches either limit, and every payment on the card while the
#   burst stays in the window, is blocked.
# custom:
#   severity: high
#   action: block
#   mode: enforce
#   entity: card_id
#   owner: payments-risk
#   tags: [payment, card, velocity, card-testing]
#   runbook: https://wiki.example.com/risk/card_testing_burst
package risk.rules.card_testing_burst

hit := {
	"reason": sprintf("%v small payments on this card within 1 minute (limit %v)", [n, limit]),
	"small_payments": n,
	"window": "1m",
	"limit": limit,
} if {
	input.record.type == "payment"
	n := input.features.card_small_payment_count_1m
	limit := data.risk.config.card_testing_burst.min_small_payments_1m
	n >= limit
} else := {
	"reason": sprintf("%v small payments on this card within 10 minutes (limit %v)", [n, limit]),
	"small_payments": n,
	"window": "10m",
	"limit": limit,
} if {
	input.record.type == "payment"
	n := input.features.card_small_payment_count_10m
	limit := data.risk.config.card_testing_burst.min_small_payments_10m
	n >= limit
}
