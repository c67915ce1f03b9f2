# METADATA
# title: many_defs
# custom:
#   severity: low
#   action: review
#   mode: enforce
#   entity: id
#   owner: test
package risk.rules.many_defs

hit := {"reason": "typed"} if input.record.type == "payment"

hit := {"reason": "typed"} if input.record.type == "refund"

hit := {"reason": sprintf("flag %v", [input.record.flag])} if input.record.flag == true
