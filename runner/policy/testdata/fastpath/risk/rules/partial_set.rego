# METADATA
# title: partial_set
# custom:
#   severity: low
#   action: review
#   mode: enforce
#   entity: id
#   owner: test
package risk.rules.partial_set

import data.risk.lib

hit := {"reason": sprintf("bad tags %v", [lib.bad_tags])} if {
	input.record.type == "payment"
	count(lib.bad_tags) > 0
}
