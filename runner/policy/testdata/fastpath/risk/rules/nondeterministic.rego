# METADATA
# title: nondeterministic
# custom:
#   severity: low
#   action: review
#   mode: enforce
#   entity: id
#   owner: test
package risk.rules.nondeterministic

hit := {"reason": "late"} if {
	input.record.type == "refund"
	time.now_ns() > 0
}
