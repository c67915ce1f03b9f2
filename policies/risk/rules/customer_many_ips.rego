# METADATA
# title: Many IP addresses on one customer in a day
# description: >-
#   A login, payment, withdrawal, transfer or credential change by a customer seen
#   from at least min_ips distinct IP addresses in the last 24 hours (feature
#   customer_ip_distinct_24h, this record included): proxies or a botnet working
#   the account. Mobile carriers and travel change addresses all the time, so the
#   rule is noisy by design and runs in shadow mode.
# custom:
#   severity: low
#   action: review
#   mode: shadow
#   entity: customer_id
#   owner: identity-risk
#   tags: [ip, ato, velocity]
#   runbook: https://wiki.example.com/risk/customer_many_ips
package risk.rules.customer_many_ips

hit := {
	"reason": sprintf("%v distinct IP addresses used by this customer within 24 hours (limit %v)", [n, limit]),
	"ips": n,
	"limit": limit,
} if {
	input.record.type in {"login", "payment", "withdrawal", "transfer", "credential_change"}
	n := input.features.customer_ip_distinct_24h
	limit := data.risk.config.customer_many_ips.min_ips
	n >= limit
}
