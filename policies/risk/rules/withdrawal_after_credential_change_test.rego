package risk.rules.withdrawal_after_credential_change_test

import data.risk.lib.record
import data.risk.rules.withdrawal_after_credential_change

_config := {"min_credential_changes": 1, "min_amount": {"EUR": 500, "GBP": 450}}

_withdrawal := {
	"id": "w-1", "ts": "2026-03-11T09:20:00Z", "type": "withdrawal",
	"customer_id": "cus-1", "account_id": "acc-1", "amount": 500, "currency": "EUR",
}

_features := {"customer_credential_change_count_24h": 1}

_hit(r, features) := h if {
	h := withdrawal_after_credential_change.hit with input as {"record": r, "features": features}
		with data.risk.config.withdrawal_after_credential_change as _config
}

test_fires_at_both_limits if {
	_hit(_withdrawal, _features) == {
		"reason": "withdrawal of 500 EUR within 24 hours of a credential change (1 in 24 hours) is at or above the 500 EUR threshold",
		"credential_changes": 1,
		"amount": 500, "currency": "EUR", "threshold": 500,
	}
}

test_fires_on_transfers_in_other_currencies if {
	h := _hit(object.union(_withdrawal, {"type": "transfer", "amount": 2750.5, "currency": "GBP"}), {"customer_credential_change_count_24h": 3})
	h.reason == "transfer of 2750.50 GBP within 24 hours of a credential change (3 in 24 hours) is at or above the 450 GBP threshold"
}

test_no_credential_change_does_not_fire if {
	not _hit(object.union(_withdrawal, {"amount": 1e6}), {"customer_credential_change_count_24h": 0})
}

test_a_higher_change_limit_is_honoured if {
	not withdrawal_after_credential_change.hit with input as {"record": _withdrawal, "features": _features}
		with data.risk.config.withdrawal_after_credential_change as object.union(_config, {"min_credential_changes": 2})
}

test_just_below_the_amount_threshold_does_not_fire if {
	not _hit(object.union(_withdrawal, {"amount": 499.99}), _features)
}

test_currency_without_threshold_does_not_fire if {
	not _hit(object.union(_withdrawal, {"currency": "JPY", "amount": 1e9}), _features)
}

test_absent_feature_does_not_fire if {
	not _hit(_withdrawal, {})
	not withdrawal_after_credential_change.hit with input as {"record": _withdrawal}
		with data.risk.config.withdrawal_after_credential_change as _config
}

test_absent_fields_do_not_fire if {
	every field in ["type", "amount", "currency"] {
		not _hit(object.remove(_withdrawal, [field]), _features)
	}
}

test_other_record_types_do_not_fire if {
	every t in record.types - {"withdrawal", "transfer"} {
		not _hit(object.union(_withdrawal, {"type": t}), _features)
	}
}

test_shipped_config_has_a_eur_threshold if {
	withdrawal_after_credential_change.hit with input as {"record": object.union(_withdrawal, {"amount": 1e9}), "features": {"customer_credential_change_count_24h": 1e6}}
}
