# METADATA
# title: every_kw
# custom:
#   severity: low
#   action: review
#   mode: enforce
#   entity: id
#   owner: test
package risk.rules.every_kw

hit := {"reason": "every"} if {
	input.record.type == "payment"
	every it in input.record.items {
		it.price < 10
	}
}
