# Checks on the shipped thresholds (data.json beside this file), so that a
# tuning mistake fails `opa test` with the setting named. Failing tests print
# the offending settings.
package risk.config_test

_config := data.risk.config

# _bad_money_table lists the entries of a per-currency table that are not a
# 3-letter upper-case code mapped to a positive number.
_bad_money_table(table) := {sprintf("%s: %v", [currency, amount]) |
	some currency, amount in table
	not _valid_money(currency, amount)
}

_valid_money(currency, amount) if {
	regex.match(`^[A-Z]{3}$`, currency)
	is_number(amount)
	amount > 0
}

_money_tables := {
	"large_payment.min_amount": _config.large_payment.min_amount,
	"high_risk_mcc.min_amount": _config.high_risk_mcc.min_amount,
	"new_account_large_amount.min_amount": _config.new_account_large_amount.min_amount,
	"night_large_withdrawal.min_amount": _config.night_large_withdrawal.min_amount,
	"withdrawal_new_destination.min_amount": _config.withdrawal_new_destination.min_amount,
	"structuring.reporting_threshold": _config.structuring.reporting_threshold,
	"refund_over_limit.min_amount": _config.refund_over_limit.min_amount,
	"spend_spike.min_amount": _config.spend_spike.min_amount,
	"withdrawal_after_credential_change.min_amount": _config.withdrawal_after_credential_change.min_amount,
	"new_device_large_amount.min_amount": _config.new_device_large_amount.min_amount,
}

test_every_money_table_is_present if {
	count(_money_tables) == 10
}

test_money_tables_map_currency_codes_to_positive_amounts if {
	bad := {sprintf("%s %s", [name, entry]) |
		some name, table in _money_tables
		some entry in _bad_money_table(table)
	}
	print("bad per-currency amounts:", bad)
	count(bad) == 0
}

test_night_window_hours_are_hours_of_the_day if {
	every key in ["start_hour_utc", "end_hour_utc"] {
		h := _config.night_large_withdrawal[key]
		is_number(h)
		h == round(h)
		h >= 0
		h <= 23
	}
	_config.night_large_withdrawal.start_hour_utc != _config.night_large_withdrawal.end_hour_utc
}

test_structuring_band_is_a_fraction if {
	f := _config.structuring.band_fraction
	f > 0
	f < 1
}

test_new_account_age_is_positive if {
	_config.new_account_large_amount.max_account_age_days > 0
}

test_brute_force_limit_is_a_positive_count if {
	n := _config.login_brute_force.min_failed_attempts
	n == round(n)
	n >= 1
}

test_invalid_money_entries_are_reported if {
	_bad_money_table({"EUR": 10, "eur": 10, "USD": 0, "GBP": "10", "JPY": -1}) == {"eur: 10", "USD: 0", "GBP: 10", "JPY: -1"}
}

# The count limits of the velocity rules: whole numbers of records, at least
# `least` (a distinct count of 1 is every customer).
_count_limits := {
	"card_testing_burst.min_small_payments_1m": [_config.card_testing_burst.min_small_payments_1m, 1],
	"card_testing_burst.min_small_payments_10m": [_config.card_testing_burst.min_small_payments_10m, 1],
	"spend_spike.min_earlier_payments": [_config.spend_spike.min_earlier_payments, 1],
	"compromised_terminal.min_fraud_count": [_config.compromised_terminal.min_fraud_count, 1],
	"customer_many_devices.min_devices": [_config.customer_many_devices.min_devices, 2],
	"customer_many_ips.min_ips": [_config.customer_many_ips.min_ips, 2],
	"withdrawal_after_credential_change.min_credential_changes": [_config.withdrawal_after_credential_change.min_credential_changes, 1],
}

_bad_count_limits(limits) := {sprintf("%s: %v (at least %v)", [name, limit[0], limit[1]]) |
	some name, limit in limits
	not _whole_at_least(limit[0], limit[1])
}

_whole_at_least(n, least) if {
	is_number(n)
	n == round(n)
	n >= least
}

test_every_count_limit_is_present if {
	count(_count_limits) == 7
}

test_velocity_count_limits_are_whole_numbers_of_records if {
	bad := _bad_count_limits(_count_limits)
	print("bad count limits:", bad)
	count(bad) == 0
}

test_invalid_count_limits_are_reported if {
	_bad_count_limits({"a": [0, 1], "b": [2.5, 1], "c": ["3", 1], "d": [1, 2], "e": [4, 2]}) == {
		"a: 0 (at least 1)", "b: 2.5 (at least 1)", "c: 3 (at least 1)", "d: 1 (at least 2)",
	}
}

# A burst inside one minute is inside ten minutes too: a one-minute limit at or
# above the ten-minute one would never decide anything.
test_card_testing_one_minute_limit_is_below_the_ten_minute_limit if {
	_config.card_testing_burst.min_small_payments_1m < _config.card_testing_burst.min_small_payments_10m
}

test_spend_spike_multiple_is_above_one if {
	_config.spend_spike.min_multiple > 1
}

test_compromised_terminal_risk_is_a_fraction if {
	r := _config.compromised_terminal.min_risk
	r > 0
	r <= 1
}

test_new_device_ages_are_not_negative if {
	every key in ["max_device_age_seconds", "min_customer_age_days"] {
		v := _config.new_device_large_amount[key]
		is_number(v)
		v >= 0
	}
}
