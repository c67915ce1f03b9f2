# METADATA
# title: negation
# custom:
#   severity: medium
#   action: review
#   mode: enforce
#   entity: id
#   owner: test
package risk.rules.negation

import data.risk.lib

hit := {"reason": "not flagged"} if {
	input.record.type in lib.allowed_types
	not input.record.flag
	not lib.odd(input.record.n)
	not data.cfg.blocked[input.record.id]
}
