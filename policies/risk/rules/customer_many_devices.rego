# METADATA
# title: Many devices on one customer in a day
# description: >-
#   A login, payment, withdrawal, transfer or credential change by a customer who
#   has used at least min_devices distinct devices in the last 24 hours (feature
#   customer_device_distinct_24h, this record included): a shared or taken-over
#   account, or an emulator farm cycling device ids.
# custom:
#   severity: medium
#   action: review
#   mode: enforce
#   entity: customer_id
#   owner: identity-risk
#   tags: [device, ato, velocity]
#   runbook: https://wiki.example.com/risk/customer_many_devices
package risk.rules.customer_many_devices

hit := {
	"reason": sprintf("%v distinct devices used by this customer within 24 hours (limit %v)", [n, limit]),
	"devices": n,
	"limit": limit,
} if {
	input.record.type in {"login", "payment", "withdrawal", "transfer", "credential_change"}
	n := input.features.customer_device_distinct_24h
	limit := data.risk.config.customer_many_devices.min_devices
	n >= limit
}
