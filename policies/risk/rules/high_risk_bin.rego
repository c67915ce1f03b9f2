# METADATA
# title: Card from a high-risk BIN
# description: >-
#   A payment with a card whose first six digits (BIN) are on the high-risk BIN
#   list (lists.high_risk_bins: anonymous prepaid, resold virtual cards, ...).
#   Shadow mode while the list is being evaluated.
# custom:
#   severity: low
#   action: review
#   mode: shadow
#   entity: card_id
#   owner: payments-risk
#   tags: [card, bin]
#   runbook: https://wiki.example.com/risk/high_risk_bin
package risk.rules.high_risk_bin

hit := {
	"reason": sprintf("card BIN %s is on the high-risk BIN list: %s", [bin, note]),
	"bin": bin,
	"list_note": note,
} if {
	input.record.type == "payment"

	# BINs arrive with 6 to 8 digits; the list is keyed by the 6-digit prefix.
	bin := substring(input.record.card_bin, 0, 6)
	note := data.risk.lists.high_risk_bins[bin]
}
