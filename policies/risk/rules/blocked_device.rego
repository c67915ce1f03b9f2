# METADATA
# title: Blocked device
# description: >-
#   Any customer activity (login, signup, payment, ...) from a device on the
#   blocked-device list (lists.blocked_devices: device id and why it was blocked).
# custom:
#   severity: high
#   action: block
#   mode: enforce
#   entity: device_id
#   owner: identity-risk
#   tags: [device, blocklist]
#   runbook: https://wiki.example.com/risk/blocked_device
package risk.rules.blocked_device

hit := {
	"reason": sprintf("%s from device %s, which is on the blocked-device list: %s", [
		input.record.type,
		input.record.device_id,
		note,
	]),
	"list_note": note,
} if {
	input.record.type != "label" # labels carry ground truth and are never judged
	note := data.risk.lists.blocked_devices[input.record.device_id]
}
