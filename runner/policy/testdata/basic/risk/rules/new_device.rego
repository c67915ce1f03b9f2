# METADATA
# title: Payment from a new device
# description: Trialled in shadow mode before it may act.
# custom:
#   severity: low
#   action: review
#   mode: shadow
#   entity: device_id
#   owner: payments-risk
package risk.rules.new_device

hit := {"reason": "first payment from this device", "env": input.context.env} if {
	input.record.type == "payment"
	input.features.device_seen_before == false
}
