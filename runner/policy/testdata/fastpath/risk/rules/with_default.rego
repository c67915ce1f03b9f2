# METADATA
# title: with_default
# custom:
#   severity: critical
#   action: review
#   mode: enforce
#   entity: id
#   owner: test
package risk.rules.with_default

default hit := {"reason": "always"}

hit := {"reason": "sometimes"} if input.record.type == "never"
