# METADATA
# title: Payment from a new device
# custom:
#   severity: low
#   action: review
#   mode: shadow
#   entity: device_id
#   owner: payments-risk
package risk.rules.new_device

hit := {"reason": "first payment from this device"} if {
	input.record.type == "payment"
	input.features.device_seen_before == false
}
