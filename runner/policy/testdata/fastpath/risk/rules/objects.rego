# METADATA
# title: objects
# custom:
#   severity: low
#   action: review
#   mode: enforce
#   entity: id
#   owner: test
package risk.rules.objects

hit := {"reason": "prices", "by_name": by_name} if {
	input.record.type == "objects"
	by_name := {it.name: it.price | some it in input.record.items}
	count(by_name) > 1
}
