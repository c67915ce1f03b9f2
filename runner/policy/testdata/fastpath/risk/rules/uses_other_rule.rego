# METADATA
# title: uses_other_rule
# custom:
#   severity: medium
#   action: review
#   mode: enforce
#   entity: id
#   owner: test
package risk.rules.uses_other_rule

hit := {"reason": sprintf("after %v", [data.risk.rules.else_chain.hit.reason])} if {
	data.risk.rules.else_chain.hit
	input.record.type != "refund"
}
