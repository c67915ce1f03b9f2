# METADATA
# title: conflicts
# custom:
#   severity: low
#   action: review
#   mode: enforce
#   entity: id
#   owner: test
package risk.rules.conflicts

import data.risk.lib

hit := {"reason": sprintf("clash %v level %v", [lib.clash(input.record.amount), lib.level])} if {
	input.record.type == "conflict"
	lib.clash(input.record.amount) > 0
	lib.level
}
