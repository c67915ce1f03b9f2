package risk.rules.blocked_card_test

import data.risk.lib.record
import data.risk.rules.blocked_card

_blocked := {"ctok_stolen": "reported stolen on 2026-02-11 (case FR-1)"}

_payment := {
	"id": "p-1", "ts": "2026-03-01T10:00:00Z", "type": "payment",
	"card_id": "ctok_stolen", "amount": 25, "currency": "EUR",
}

_hit(r) := h if {
	h := blocked_card.hit with input as {"record": r}
		with data.risk.lists.blocked_cards as _blocked
}

test_fires_on_blocked_card if {
	_hit(_payment) == {
		"reason": "card ctok_stolen is on the blocked-card list: reported stolen on 2026-02-11 (case FR-1)",
		"list_note": "reported stolen on 2026-02-11 (case FR-1)",
	}
}

test_fires_on_withdrawals_and_refunds if {
	every t in ["withdrawal", "refund"] {
		_hit(object.union(_payment, {"type": t}))
	}
}

test_other_card_does_not_fire if {
	not _hit(object.union(_payment, {"card_id": "ctok_clean"}))
	not _hit(object.union(_payment, {"card_id": "CTOK_STOLEN"}))
}

test_absent_fields_do_not_fire if {
	every field in ["type", "card_id"] {
		not _hit(object.remove(_payment, [field]))
	}
}

test_other_record_types_do_not_fire if {
	every t in record.types - {"payment", "withdrawal", "refund"} {
		not _hit(object.union(_payment, {"type": t}))
	}
}

test_shipped_list_blocks_its_cards if {
	every card in object.keys(data.risk.lists.blocked_cards) {
		blocked_card.hit with input as {"record": object.union(_payment, {"card_id": card})}
	}
}
