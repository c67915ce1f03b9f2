# METADATA
# title: Disposable e-mail domain
# description: >-
#   A signup or payment with an e-mail address at a throwaway-mailbox domain
#   (lists.disposable_email_domains). Flags and scores only; does not stop the customer.
# custom:
#   severity: low
#   action: allow
#   mode: enforce
#   entity: customer_id
#   owner: identity-risk
#   tags: [email, signup]
#   runbook: https://wiki.example.com/risk/disposable_email
package risk.rules.disposable_email

import data.risk.lib.email

hit := {
	"reason": sprintf("%s with e-mail address at disposable domain %s", [input.record.type, domain]),
	"domain": domain,
} if {
	input.record.type in {"signup", "payment"}
	domain := email.domain(input.record.email)
	data.risk.lists.disposable_email_domains[domain]
}
