# METADATA
# title: data_lookups
# custom:
#   severity: high
#   action: review
#   mode: enforce
#   entity: id
#   owner: test
package risk.rules.data_lookups

import data.risk.lib

hit := {"reason": sprintf("%v over %v, %v", [input.record.amount, limit, note])} if {
	limit := lib.limits[input.record.currency]
	input.record.amount >= limit
	note := object.get(data.cfg.blocked, input.record.id, "unlisted")
}
