# METADATA
# title: Credential change from outside the billing country
# description: >-
#   A password, e-mail, phone or 2FA change made from an IP address located in
#   a country other than the customer's billing country: the step that locks
#   the real owner out in an account takeover.
# custom:
#   severity: high
#   action: review
#   mode: enforce
#   entity: customer_id
#   owner: identity-risk
#   tags: [ato, geo, credential]
#   runbook: https://wiki.example.com/risk/credential_change_foreign_ip
package risk.rules.credential_change_foreign_ip

hit := {
	"reason": sprintf("credential change from an IP located in %s; billing country is %s", [r.ip_country, r.billing_country]),
	"ip_country": r.ip_country,
	"billing_country": r.billing_country,
} if {
	input.record.type == "credential_change"
	r := input.record
	r.ip_country != r.billing_country
}
