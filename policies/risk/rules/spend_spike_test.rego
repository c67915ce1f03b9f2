package risk.rules.spend_spike_test

import data.risk.lib.record
import data.risk.rules.spend_spike

_config := {"min_earlier_payments": 5, "min_multiple": 5, "min_amount": {"EUR": 300, "JPY": 48000}}

_payment := {
	"id": "p-6", "ts": "2026-03-02T19:30:00Z", "type": "payment",
	"customer_id": "cus-1", "card_id": "c-1", "amount": 900, "currency": "EUR",
}

# Five earlier payments averaging 43 EUR, then this 900 EUR one: the features
# include it, so the 30-day mean is (5 * 43 + 900) / 6.
_features := {"customer_tx_count_30d": 6, "customer_amount_avg_30d": 185.83333333333334}

_hit(r, features) := h if {
	h := spend_spike.hit with input as {"record": r, "features": features}
		with data.risk.config.spend_spike as _config
}

# _features_for builds the features the runner would compute for a payment of
# amount after earlier payments averaging average.
_features_for(amount, earlier, average) := {
	"customer_tx_count_30d": earlier + 1,
	"customer_amount_avg_30d": ((average * earlier) + amount) / (earlier + 1),
}

test_fires_on_a_spike if {
	_hit(_payment, _features) == {
		"reason": "payment of 900 EUR is 20.9 times this customer's average of 43 EUR over 5 earlier payments in 30 days (limit 5 times)",
		"amount": 900, "currency": "EUR",
		"earlier_average": 43, "earlier_payments": 5,
		"multiple": 900 / (((185.83333333333334 * 6) - 900) / 5),
	}
}

test_fires_at_the_multiple_limit if {
	h := _hit(object.union(_payment, {"amount": 1000}), _features_for(1000, 8, 200))
	h.reason == "payment of 1000 EUR is 5 times this customer's average of 200 EUR over 8 earlier payments in 30 days (limit 5 times)"
}

test_fires_in_another_currency if {
	h := _hit(object.union(_payment, {"amount": 250000, "currency": "JPY"}), _features_for(250000, 12, 3150.5))
	h.reason == "payment of 250000 JPY is 79.3 times this customer's average of 3150.50 JPY over 12 earlier payments in 30 days (limit 5 times)"
}

test_just_below_the_multiple_does_not_fire if {
	not _hit(object.union(_payment, {"amount": 999.99}), _features_for(999.99, 8, 200))
}

test_just_below_the_amount_floor_does_not_fire if {
	not _hit(object.union(_payment, {"amount": 299.99}), _features_for(299.99, 5, 10))
}

test_at_the_amount_floor_fires if {
	_hit(object.union(_payment, {"amount": 300}), _features_for(300, 5, 10))
}

test_too_little_history_does_not_fire if {
	not _hit(_payment, _features_for(900, 4, 43))
	not _hit(_payment, _features_for(900, 0, 0))
}

test_enough_history_fires if {
	_hit(_payment, _features_for(900, 5, 43))
}

# Earlier payments of 0 (card checks, say) give no average to compare with.
test_zero_average_does_not_fire if {
	not _hit(_payment, _features_for(900, 6, 0))
}

test_currency_without_floor_does_not_fire if {
	not _hit(object.union(_payment, {"currency": "USD"}), _features)
}

test_absent_features_do_not_fire if {
	every name in object.keys(_features) {
		not _hit(_payment, object.remove(_features, [name]))
	}
	not spend_spike.hit with input as {"record": _payment}
		with data.risk.config.spend_spike as _config
}

test_absent_fields_do_not_fire if {
	every field in ["type", "amount", "currency"] {
		not _hit(object.remove(_payment, [field]), _features)
	}
}

test_other_record_types_do_not_fire if {
	every t in record.types - {"payment"} {
		not _hit(object.union(_payment, {"type": t}), _features)
	}
}

test_shipped_config_has_a_eur_floor if {
	spend_spike.hit with input as {"record": _payment, "features": _features_for(900, 1000, 1)}
}
