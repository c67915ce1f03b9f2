# METADATA
# title: else_chain
# custom:
#   severity: medium
#   action: review
#   mode: enforce
#   entity: id
#   owner: test
package risk.rules.else_chain

hit := {"reason": "big"} if {
	input.record.amount >= 1000
} else := {"reason": sprintf("medium %v", [input.record.amount])} if {
	input.record.amount >= 100
} else := {"reason": "string amount"} if {
	is_string(input.record.amount)
}
