# METADATA
# title: Sanctioned country
# description: >-
#   Any customer activity whose billing, card, IP or merchant country is on the
#   sanctioned-country list (lists.sanctioned_countries, owned by compliance).
# custom:
#   severity: critical
#   action: block
#   mode: enforce
#   entity: customer_id
#   owner: compliance
#   tags: [sanctions, geo]
#   runbook: https://wiki.example.com/risk/sanctioned_country
package risk.rules.sanctioned_country

hit := {
	"reason": sprintf("%s involves a sanctioned country: %s", [
		input.record.type,
		concat(", ", [sprintf("%s %s (%s)", [f, c, data.risk.lists.sanctioned_countries[c]]) | some f, c in countries]),
	]),
	"countries": countries,
} if {
	input.record.type != "label" # labels carry ground truth and are never judged

	# One hit names every sanctioned country on the record, by field name.
	countries := {f: c |
		some f in ["billing_country", "card_country", "ip_country", "merchant_country"]
		c := input.record[f]
		data.risk.lists.sanctioned_countries[c]
	}
	count(countries) > 0
}
