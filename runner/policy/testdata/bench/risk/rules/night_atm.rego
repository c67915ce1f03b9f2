# METADATA
# title: Night-time ATM withdrawal
# custom:
#   severity: low
#   action: review
#   mode: enforce
#   entity: card_id
#   owner: payments-risk
package risk.rules.night_atm

hit := {"reason": sprintf("ATM withdrawal at %02d:00 UTC", [hour])} if {
	input.record.channel == "atm"
	input.record.amount > 300
	[hour, _, _] := time.clock(time.parse_rfc3339_ns(input.record.ts))
	hour >= 1
	hour < 5
}
