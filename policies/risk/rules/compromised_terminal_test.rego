package risk.rules.compromised_terminal_test

import data.risk.lib.record
import data.risk.rules.compromised_terminal

_config := {"min_fraud_count": 3, "min_risk": 0.2}

_payment := {
	"id": "p-1", "ts": "2026-03-09T12:00:00Z", "type": "payment",
	"card_id": "c-1", "terminal_id": "t-1", "amount": 35, "currency": "EUR", "channel": "pos",
}

_features(frauds, payments) := {
	"terminal_fraud_count_28d_d7": frauds,
	"terminal_tx_count_28d_d7": payments,
	"terminal_risk_28d_d7": _risk(frauds, payments),
}

# The ratio feature's default: 0 when the terminal had no payments.
_risk(_, 0) := 0

_risk(frauds, payments) := frauds / payments if payments > 0

_hit(r, features) := h if {
	h := compromised_terminal.hit with input as {"record": r, "features": features}
		with data.risk.config.compromised_terminal as _config
}

test_fires_at_the_fraud_count_limit if {
	_hit(_payment, _features(3, 40)) == {
		"reason": "terminal t-1, payments 7 to 35 days ago: confirmed frauds 3 of 40 (limit 3 frauds)",
		"frauds": 3, "payments": 40, "risk": 0.075,
	}
}

test_fires_at_the_risk_limit if {
	_hit(_payment, _features(1, 5)) == {
		"reason": "terminal t-1, payments 7 to 35 days ago: confirmed frauds 1 of 5, a fraud rate of 20% (limit 20%)",
		"frauds": 1, "payments": 5, "risk": 0.2,
	}
}

test_fires_on_a_single_fraud_at_a_quiet_terminal if {
	h := _hit(_payment, _features(1, 1))
	h.reason == "terminal t-1, payments 7 to 35 days ago: confirmed frauds 1 of 1, a fraud rate of 100% (limit 20%)"
}

test_fraud_rate_is_shown_to_a_tenth_of_a_percent if {
	h := _hit(_payment, _features(2, 3))
	h.reason == "terminal t-1, payments 7 to 35 days ago: confirmed frauds 2 of 3, a fraud rate of 66.6% (limit 20%)"
}

# Labels can name payments the runner never saw (or saw outside the window).
test_fires_on_frauds_without_payments if {
	h := _hit(_payment, _features(4, 0))
	h.reason == "terminal t-1, payments 7 to 35 days ago: confirmed frauds 4 of 0 (limit 3 frauds)"
}

test_just_below_both_limits_does_not_fire if {
	not _hit(_payment, _features(2, 11))
	not _hit(_payment, _features(1, 6))
	not _hit(_payment, _features(0, 0))
	not _hit(_payment, _features(0, 250))
}

test_absent_features_do_not_fire if {
	every name in object.keys(_features(3, 3)) {
		not _hit(_payment, object.remove(_features(3, 3), [name]))
	}
	not compromised_terminal.hit with input as {"record": _payment}
		with data.risk.config.compromised_terminal as _config
}

test_absent_fields_do_not_fire if {
	every field in ["type", "terminal_id"] {
		not _hit(object.remove(_payment, [field]), _features(3, 3))
	}
}

test_other_record_types_do_not_fire if {
	every t in record.types - {"payment"} {
		not _hit(object.union(_payment, {"type": t}), _features(3, 3))
	}
}

test_shipped_config_has_both_limits if {
	compromised_terminal.hit with input as {"record": _payment, "features": _features(1e6, 1e9)}
	compromised_terminal.hit with input as {"record": _payment, "features": _features(1, 1)}
}
