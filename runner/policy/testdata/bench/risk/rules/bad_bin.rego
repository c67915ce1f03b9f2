# METADATA
# title: Card BIN on the blocklist
# custom:
#   severity: critical
#   action: block
#   mode: enforce
#   entity: card_id
#   owner: payments-risk
package risk.rules.bad_bin

hit := {"reason": sprintf("BIN %s is blocklisted", [input.record.card_bin])} if {
	data.risk.lists.bad_bins[input.record.card_bin]
}
