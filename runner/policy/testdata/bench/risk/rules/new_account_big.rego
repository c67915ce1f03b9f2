# METADATA
# title: Large payment from a new account
# custom:
#   severity: high
#   action: block
#   mode: enforce
#   entity: account_id
#   owner: payments-risk
package risk.rules.new_account_big

week_ns := ((7 * 24) * 3600) * 1000000000

hit := {"reason": "account younger than 7 days paying over 1000"} if {
	input.record.type == "payment"
	input.record.amount > 1000
	age := time.parse_rfc3339_ns(input.record.ts) - time.parse_rfc3339_ns(input.record.account_created_at)
	age < week_ns
}
