# METADATA
# title: Blocked card
# description: >-
#   A payment, withdrawal or refund on a card that is on the blocked-card list
#   (lists.blocked_cards: card token and why it was blocked).
# custom:
#   severity: critical
#   action: block
#   mode: enforce
#   entity: card_id
#   owner: payments-risk
#   tags: [card, blocklist]
#   runbook: https://wiki.example.com/risk/blocked_card
package risk.rules.blocked_card

hit := {
	"reason": sprintf("card %s is on the blocked-card list: %s", [input.record.card_id, note]),
	"list_note": note,
} if {
	input.record.type in {"payment", "withdrawal", "refund"}
	note := data.risk.lists.blocked_cards[input.record.card_id]
}
