# METADATA
# title: Login after many failed attempts
# description: >-
#   A login attempt made after at least min_failed_attempts failed attempts on
#   the same account: password guessing or credential stuffing. The attempt is blocked.
# custom:
#   severity: high
#   action: block
#   mode: enforce
#   entity: customer_id
#   owner: identity-risk
#   tags: [login, ato]
#   runbook: https://wiki.example.com/risk/login_brute_force
package risk.rules.login_brute_force

hit := {
	"reason": sprintf("login after %d failed attempts (limit %d)", [input.record.failed_attempts, limit]),
	"failed_attempts": input.record.failed_attempts,
	"limit": limit,
} if {
	input.record.type == "login"
	limit := data.risk.config.login_brute_force.min_failed_attempts
	input.record.failed_attempts >= limit
}
