package risk.rules.high_risk_bin_test

import data.risk.lib.record
import data.risk.rules.high_risk_bin

_bins := {"411111": "anonymous prepaid"}

_payment := {
	"id": "p-1", "ts": "2026-03-01T10:00:00Z", "type": "payment",
	"card_id": "c-1", "card_bin": "411111", "amount": 25, "currency": "EUR",
}

_hit(r) := h if {
	h := high_risk_bin.hit with input as {"record": r}
		with data.risk.lists.high_risk_bins as _bins
}

test_fires_on_listed_bin if {
	_hit(_payment) == {
		"reason": "card BIN 411111 is on the high-risk BIN list: anonymous prepaid",
		"bin": "411111",
		"list_note": "anonymous prepaid",
	}
}

test_fires_on_eight_digit_bin_with_listed_prefix if {
	h := _hit(object.union(_payment, {"card_bin": "41111187"}))
	h.bin == "411111"
}

test_unlisted_bin_does_not_fire if {
	not _hit(object.union(_payment, {"card_bin": "411112"}))
	not _hit(object.union(_payment, {"card_bin": "41111"}))
}

test_absent_fields_do_not_fire if {
	every field in ["type", "card_bin"] {
		not _hit(object.remove(_payment, [field]))
	}
}

test_other_record_types_do_not_fire if {
	every t in record.types - {"payment"} {
		not _hit(object.union(_payment, {"type": t}))
	}
}

test_shipped_list_flags_its_bins if {
	every bin in object.keys(data.risk.lists.high_risk_bins) {
		high_risk_bin.hit with input as {"record": object.union(_payment, {"card_bin": concat("", [bin, "00"])})}
	}
}
