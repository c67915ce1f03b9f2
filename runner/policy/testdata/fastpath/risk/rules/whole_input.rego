# METADATA
# title: whole_input
# custom:
#   severity: low
#   action: review
#   mode: enforce
#   entity: id
#   owner: test
package risk.rules.whole_input

hit := {"reason": sprintf("%d keys", [count(input.record)])} if {
	count(input.record) > 9
	input.context.env == "test"
	object.get(input, ["scores", "s"], 0) > 0.5
}
