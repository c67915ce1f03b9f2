# METADATA
# title: funcs
# custom:
#   severity: high
#   action: review
#   mode: enforce
#   entity: id
#   owner: test
package risk.rules.funcs

import data.risk.lib

hit := {"reason": sprintf("%s/%v", [lib.band(input.record.amount), lib.odd(input.record.n)])} if {
	lib.band(input.record.amount) != "unknown"
	lib.odd(input.record.n)
}
