package risk.rules.refund_over_limit_test

import data.risk.lib.record
import data.risk.rules.refund_over_limit

_config := {"min_amount": {"EUR": 2000, "CNY": 16000}}

_refund := {
	"id": "r-1", "ts": "2026-03-01T10:00:00Z", "type": "refund",
	"merchant_id": "m-1", "card_id": "c-1", "amount": 2000, "currency": "EUR",
}

_hit(r) := h if {
	h := refund_over_limit.hit with input as {"record": r}
		with data.risk.config.refund_over_limit as _config
}

test_fires_at_limit if {
	_hit(_refund) == {
		"reason": "refund of 2000 EUR is at or above the 2000 EUR refund limit",
		"amount": 2000, "currency": "EUR", "limit": 2000,
	}
}

test_fires_above_limit_in_another_currency if {
	h := _hit(object.union(_refund, {"amount": 18888.8, "currency": "CNY"}))
	h.reason == "refund of 18888.80 CNY is at or above the 16000 CNY refund limit"
}

test_just_below_limit_does_not_fire if {
	not _hit(object.union(_refund, {"amount": 1999.99}))
}

test_currency_without_limit_does_not_fire if {
	not _hit(object.union(_refund, {"currency": "USD", "amount": 1e6}))
}

test_absent_fields_do_not_fire if {
	every field in ["type", "amount", "currency"] {
		not _hit(object.remove(_refund, [field]))
	}
}

test_other_record_types_do_not_fire if {
	every t in record.types - {"refund"} {
		not _hit(object.union(_refund, {"type": t}))
	}
}
