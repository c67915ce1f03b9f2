# METADATA
# title: Successful login from outside the billing country
# description: >-
#   A successful login from an IP address located in a country other than the
#   customer's billing country. Travel explains most; takeovers explain the rest.
# custom:
#   severity: low
#   action: review
#   mode: enforce
#   entity: customer_id
#   owner: identity-risk
#   tags: [login, geo, ato]
#   runbook: https://wiki.example.com/risk/login_country_mismatch
package risk.rules.login_country_mismatch

hit := {
	"reason": sprintf("successful login from an IP located in %s; billing country is %s", [r.ip_country, r.billing_country]),
	"ip_country": r.ip_country,
	"billing_country": r.billing_country,
} if {
	input.record.type == "login"
	r := input.record
	r.success == true
	r.ip_country != r.billing_country
}
