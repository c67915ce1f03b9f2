# METADATA
# title: Terminal with recent confirmed fraud
# description: >-
#   A payment at a terminal where at least min_fraud_count payments, or a share of
#   at least min_risk of its payments, made 7 to 35 days ago were later confirmed as
#   fraud (features terminal_fraud_count_28d_d7, terminal_tx_count_28d_d7 and
#   terminal_risk_28d_d7): a skimmed or otherwise compromised terminal. The 7-day
#   delay leaves time for the fraud labels to arrive.
# custom:
#   severity: medium
#   action: review
#   mode: enforce
#   entity: terminal_id
#   owner: payments-risk
#   tags: [payment, terminal, velocity]
#   runbook: https://wiki.example.com/risk/compromised_terminal
package risk.rules.compromised_terminal

hit := {
	"reason": sprintf("terminal %s, payments 7 to 35 days ago: confirmed frauds %v of %v (limit %v frauds)", [
		input.record.terminal_id,
		frauds,
		payments,
		config.min_fraud_count,
	]),
	"frauds": frauds,
	"payments": payments,
	"risk": input.features.terminal_risk_28d_d7,
} if {
	input.record.type == "payment"
	config := data.risk.config.compromised_terminal
	frauds := input.features.terminal_fraud_count_28d_d7
	frauds >= config.min_fraud_count
	payments := input.features.terminal_tx_count_28d_d7
} else := {
	"reason": sprintf("terminal %s, payments 7 to 35 days ago: confirmed frauds %v of %v, a fraud rate of %v%% (limit %v%%)", [
		input.record.terminal_id,
		frauds,
		payments,
		floor(risk * 1000) / 10,
		config.min_risk * 100,
	]),
	"frauds": frauds,
	"payments": payments,
	"risk": risk,
} if {
	input.record.type == "payment"
	config := data.risk.config.compromised_terminal
	risk := input.features.terminal_risk_28d_d7
	risk >= config.min_risk
	frauds := input.features.terminal_fraud_count_28d_d7
	payments := input.features.terminal_tx_count_28d_d7
}
