package risk.rules.large_payment_test

import data.risk.lib.record
import data.risk.rules.large_payment

_config := {"min_amount": {"EUR": 5000, "JPY": 800000}}

_payment := {
	"id": "p-1", "ts": "2026-03-01T10:00:00Z", "type": "payment",
	"customer_id": "cus-1", "card_id": "c-1", "amount": 5000, "currency": "EUR",
}

_hit(r) := h if {
	h := large_payment.hit with input as {"record": r}
		with data.risk.config.large_payment as _config
}

test_fires_at_threshold if {
	_hit(_payment) == {
		"reason": "payment of 5000 EUR is at or above the 5000 EUR large-payment threshold",
		"amount": 5000, "currency": "EUR", "threshold": 5000,
	}
}

test_fires_above_threshold_in_another_currency if {
	h := _hit(object.union(_payment, {"amount": 1250000.5, "currency": "JPY"}))
	h.reason == "payment of 1250000.50 JPY is at or above the 800000 JPY large-payment threshold"
}

test_just_below_threshold_does_not_fire if {
	not _hit(object.union(_payment, {"amount": 4999.99}))
	not _hit(object.union(_payment, {"amount": 799999, "currency": "JPY"}))
}

test_currency_without_threshold_does_not_fire if {
	not _hit(object.union(_payment, {"amount": 1e9, "currency": "USD"}))
}

test_absent_fields_do_not_fire if {
	every field in ["type", "amount", "currency"] {
		not _hit(object.remove(_payment, [field]))
	}
}

test_other_record_types_do_not_fire if {
	every t in record.types - {"payment"} {
		not _hit(object.union(_payment, {"type": t}))
	}
}

test_shipped_config_has_a_eur_threshold if {
	large_payment.hit with input as {"record": object.union(_payment, {"amount": 1e9})}
}
