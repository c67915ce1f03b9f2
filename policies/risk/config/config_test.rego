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
}

test_every_money_table_is_present if {
	count(_money_tables) == 7
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
