package risk.rules.structuring_test

import data.risk.lib.record
import data.risk.rules.structuring

_config := {"reporting_threshold": {"EUR": 10000, "JPY": 2000000}, "band_fraction": 0.1}

_transfer := {
	"id": "t-1", "ts": "2026-03-01T10:00:00Z", "type": "transfer",
	"account_id": "acc-1", "amount": 9500, "currency": "EUR",
}

_hit(r) := h if {
	h := structuring.hit with input as {"record": r}
		with data.risk.config.structuring as _config
}

test_fires_inside_the_band if {
	_hit(_transfer) == {
		"reason": "transfer of 9500 EUR is just below the 10000 EUR reporting threshold (within 10%)",
		"amount": 9500, "currency": "EUR", "reporting_threshold": 10000,
	}
}

test_band_edges if {
	_hit(object.union(_transfer, {"amount": 9000}))
	_hit(object.union(_transfer, {"amount": 9999.99}))
	not _hit(object.union(_transfer, {"amount": 8999.99}))
	not _hit(object.union(_transfer, {"amount": 10000}))
	not _hit(object.union(_transfer, {"amount": 25000}))
}

test_fires_on_withdrawals_in_other_currencies if {
	h := _hit(object.union(_transfer, {"type": "withdrawal", "amount": 1990000, "currency": "JPY"}))
	h.reason == "withdrawal of 1990000 JPY is just below the 2000000 JPY reporting threshold (within 10%)"
}

test_currency_without_threshold_does_not_fire if {
	not _hit(object.union(_transfer, {"currency": "USD"}))
}

test_absent_fields_do_not_fire if {
	every field in ["type", "amount", "currency"] {
		not _hit(object.remove(_transfer, [field]))
	}
}

test_other_record_types_do_not_fire if {
	every t in record.types - {"withdrawal", "transfer"} {
		not _hit(object.union(_transfer, {"type": t}))
	}
}
