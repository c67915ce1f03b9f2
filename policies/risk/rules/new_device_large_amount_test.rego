package risk.rules.new_device_large_amount_test

import data.risk.lib.record
import data.risk.rules.new_device_large_amount

_config := {"max_device_age_seconds": 3600, "min_customer_age_days": 7, "min_amount": {"EUR": 1000, "GBP": 900}}

_payment := {
	"id": "p-1", "ts": "2026-03-12T22:14:00Z", "type": "payment",
	"customer_id": "cus-1", "device_id": "dev-new", "amount": 1000, "currency": "EUR",
}

# The device was first seen 4 minutes ago (a login), the customer 39 days ago.
_features := {"customer_device_first_seen_age": 240, "customer_first_seen_age": 3384840}

_hit(r, features) := h if {
	h := new_device_large_amount.hit with input as {"record": r, "features": features}
		with data.risk.config.new_device_large_amount as _config
}

test_fires_on_a_device_first_seen_minutes_ago if {
	_hit(_payment, _features) == {
		"reason": "payment of 1000 EUR from device dev-new first seen 240 seconds ago, for a customer known for 39 days, is at or above the 1000 EUR threshold",
		"device_age_seconds": 240,
		"amount": 1000, "currency": "EUR", "threshold": 1000,
	}
}

test_fires_on_a_device_seen_for_the_first_time if {
	h := _hit(object.union(_payment, {"type": "withdrawal", "amount": 1250.75, "currency": "GBP"}), object.union(_features, {"customer_device_first_seen_age": 0}))
	h.reason == "withdrawal of 1250.75 GBP from device dev-new seen for the first time, for a customer known for 39 days, is at or above the 900 GBP threshold"
}

test_fires_on_transfers if {
	h := _hit(object.union(_payment, {"type": "transfer"}), _features)
	startswith(h.reason, "transfer of 1000 EUR from device dev-new")
}

# Counters from the runner are float64: a large age arrives as 7.776e+06.
test_fires_with_floating_point_ages if {
	h := _hit(_payment, {"customer_device_first_seen_age": 3600.0, "customer_first_seen_age": 7.776e+06})
	h.reason == "payment of 1000 EUR from device dev-new first seen 3600 seconds ago, for a customer known for 90 days, is at or above the 1000 EUR threshold"
}

test_fires_at_the_customer_age_limit if {
	_hit(_payment, object.union(_features, {"customer_first_seen_age": 604800}))
}

test_device_older_than_the_limit_does_not_fire if {
	not _hit(_payment, object.union(_features, {"customer_device_first_seen_age": 3601}))
}

test_customer_just_below_the_age_limit_does_not_fire if {
	not _hit(_payment, object.union(_features, {"customer_first_seen_age": 604799}))
	not _hit(_payment, {"customer_device_first_seen_age": 0, "customer_first_seen_age": 0})
}

test_just_below_the_amount_threshold_does_not_fire if {
	not _hit(object.union(_payment, {"amount": 999.99}), _features)
}

test_currency_without_threshold_does_not_fire if {
	not _hit(object.union(_payment, {"currency": "JPY", "amount": 1e9}), _features)
}

test_absent_features_do_not_fire if {
	every name in object.keys(_features) {
		not _hit(_payment, object.remove(_features, [name]))
	}
	not new_device_large_amount.hit with input as {"record": _payment}
		with data.risk.config.new_device_large_amount as _config
}

test_absent_fields_do_not_fire if {
	every field in ["type", "device_id", "amount", "currency"] {
		not _hit(object.remove(_payment, [field]), _features)
	}
}

test_other_record_types_do_not_fire if {
	every t in record.types - {"payment", "withdrawal", "transfer"} {
		not _hit(object.union(_payment, {"type": t}), _features)
	}
}

test_shipped_config_has_a_eur_threshold if {
	new_device_large_amount.hit with input as {"record": object.union(_payment, {"amount": 1e9}), "features": {"customer_device_first_seen_age": 0, "customer_first_seen_age": 7.776e+06}}
}
