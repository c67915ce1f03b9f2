package risk.rules.night_large_withdrawal_test

import data.risk.lib.record
import data.risk.rules.night_large_withdrawal

_config := {"start_hour_utc": 0, "end_hour_utc": 5, "min_amount": {"EUR": 2000}}

_withdrawal := {
	"id": "w-1", "ts": "2026-03-01T02:30:00Z", "type": "withdrawal",
	"account_id": "acc-1", "amount": 2000, "currency": "EUR",
}

_hit(r) := h if {
	h := night_large_withdrawal.hit with input as {"record": r}
		with data.risk.config.night_large_withdrawal as _config
}

test_fires_at_night_at_threshold if {
	_hit(_withdrawal) == {
		"reason": "withdrawal of 2000 EUR at 02:30 UTC, inside the 00:00-05:00 UTC night window, is at or above the 2000 EUR night threshold",
		"hour_utc": 2,
		"amount": 2000, "currency": "EUR", "threshold": 2000,
	}
}

test_fires_on_transfers if {
	h := _hit(object.union(_withdrawal, {"type": "transfer", "amount": 2500.5}))
	startswith(h.reason, "transfer of 2500.50 EUR at 02:30 UTC")
}

test_window_edges if {
	_hit(object.union(_withdrawal, {"ts": "2026-03-01T00:00:00Z"}))
	_hit(object.union(_withdrawal, {"ts": "2026-03-01T04:59:59.999Z"}))
	not _hit(object.union(_withdrawal, {"ts": "2026-03-01T05:00:00Z"}))
	not _hit(object.union(_withdrawal, {"ts": "2026-02-28T23:59:59Z"}))
}

test_window_past_midnight if {
	late := {"start_hour_utc": 22, "end_hour_utc": 5, "min_amount": {"EUR": 2000}}
	h := night_large_withdrawal.hit with input as {"record": object.union(_withdrawal, {"ts": "2026-03-01T23:10:00Z"})}
		with data.risk.config.night_large_withdrawal as late
	h.reason == "withdrawal of 2000 EUR at 23:10 UTC, inside the 22:00-05:00 UTC night window, is at or above the 2000 EUR night threshold"
}

test_just_below_threshold_does_not_fire if {
	not _hit(object.union(_withdrawal, {"amount": 1999.99}))
}

test_currency_without_threshold_does_not_fire if {
	not _hit(object.union(_withdrawal, {"currency": "USD", "amount": 1e6}))
}

test_absent_fields_do_not_fire if {
	every field in ["type", "ts", "amount", "currency"] {
		not _hit(object.remove(_withdrawal, [field]))
	}
}

test_other_record_types_do_not_fire if {
	every t in record.types - {"withdrawal", "transfer"} {
		not _hit(object.union(_withdrawal, {"type": t}))
	}
}
