package risk.rules.card_testing_burst_test

import data.risk.lib.record
import data.risk.rules.card_testing_burst

_config := {"min_small_payments_1m": 4, "min_small_payments_10m": 6}

_payment := {
	"id": "p-1", "ts": "2026-03-01T10:00:00Z", "type": "payment",
	"customer_id": "cus-1", "card_id": "c-1", "amount": 1, "currency": "EUR",
}

_hit(r, features) := h if {
	h := card_testing_burst.hit with input as {"record": r, "features": features}
		with data.risk.config.card_testing_burst as _config
}

test_fires_at_the_one_minute_limit if {
	_hit(_payment, {"card_small_payment_count_1m": 4, "card_small_payment_count_10m": 4}) == {
		"reason": "4 small payments on this card within 1 minute (limit 4)",
		"small_payments": 4, "window": "1m", "limit": 4,
	}
}

test_fires_at_the_ten_minute_limit if {
	_hit(_payment, {"card_small_payment_count_1m": 1, "card_small_payment_count_10m": 6}) == {
		"reason": "6 small payments on this card within 10 minutes (limit 6)",
		"small_payments": 6, "window": "10m", "limit": 6,
	}
}

test_one_minute_burst_is_reported_first if {
	h := _hit(_payment, {"card_small_payment_count_1m": 9, "card_small_payment_count_10m": 12})
	h.reason == "9 small payments on this card within 1 minute (limit 4)"
}

# The features count small payments only; a large payment right after a burst
# is the cash-out the burst was testing for.
test_fires_on_a_large_payment_during_a_burst if {
	h := _hit(object.union(_payment, {"amount": 480}), {"card_small_payment_count_1m": 0, "card_small_payment_count_10m": 7})
	h.reason == "7 small payments on this card within 10 minutes (limit 6)"
}

test_fires_with_floating_point_counts if {
	h := _hit(_payment, {"card_small_payment_count_1m": 5.0, "card_small_payment_count_10m": 5.0})
	h.small_payments == 5
}

test_just_below_both_limits_does_not_fire if {
	not _hit(_payment, {"card_small_payment_count_1m": 3, "card_small_payment_count_10m": 5})
	not _hit(_payment, {"card_small_payment_count_1m": 0, "card_small_payment_count_10m": 0})
}

test_absent_features_do_not_fire if {
	not _hit(_payment, {})
	not _hit(_payment, {"card_small_payment_count_1m": 3})
	not _hit(_payment, {"card_small_payment_count_10m": 5})
	not card_testing_burst.hit with input as {"record": _payment}
		with data.risk.config.card_testing_burst as _config
}

test_each_feature_alone_can_fire if {
	_hit(_payment, {"card_small_payment_count_1m": 4})
	_hit(_payment, {"card_small_payment_count_10m": 6})
}

test_absent_type_does_not_fire if {
	not _hit(object.remove(_payment, ["type"]), {"card_small_payment_count_1m": 9, "card_small_payment_count_10m": 9})
}

test_other_record_types_do_not_fire if {
	every t in record.types - {"payment"} {
		not _hit(object.union(_payment, {"type": t}), {"card_small_payment_count_1m": 9, "card_small_payment_count_10m": 9})
	}
}

test_shipped_config_has_both_limits if {
	card_testing_burst.hit with input as {"record": _payment, "features": {"card_small_payment_count_1m": 1e6}}
	card_testing_burst.hit with input as {"record": _payment, "features": {"card_small_payment_count_10m": 1e6}}
}
