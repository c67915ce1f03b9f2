package risk.rules.new_account_large_amount_test

import data.risk.lib.record
import data.risk.rules.new_account_large_amount

_config := {"max_account_age_days": 7, "min_amount": {"EUR": 1000}}

_withdrawal := {
	"id": "w-1", "ts": "2026-03-08T12:00:00Z", "type": "withdrawal",
	"customer_id": "cus-1", "account_id": "acc-1", "amount": 1000, "currency": "EUR",
	"account_created_at": "2026-03-06T04:48:00Z",
}

_hit(r) := h if {
	h := new_account_large_amount.hit with input as {"record": r}
		with data.risk.config.new_account_large_amount as _config
}

test_fires_at_amount_threshold if {
	_hit(_withdrawal) == {
		"reason": "withdrawal of 1000 EUR from an account opened 2.3 days earlier (under 7) is at or above the 1000 EUR new-account threshold",
		"account_age_days": 2.3,
		"amount": 1000, "currency": "EUR", "threshold": 1000,
	}
}

test_fires_for_payments_and_transfers if {
	every t in ["payment", "transfer"] {
		h := _hit(object.union(_withdrawal, {"type": t}))
		startswith(h.reason, sprintf("%s of 1000 EUR", [t]))
	}
}

test_fires_just_inside_the_age_limit if {
	h := _hit(object.union(_withdrawal, {"account_created_at": "2026-03-01T12:00:01Z"}))
	h.reason == "withdrawal of 1000 EUR from an account opened 6.9 days earlier (under 7) is at or above the 1000 EUR new-account threshold"
}

test_account_dated_after_the_event_counts_as_new if {
	h := _hit(object.union(_withdrawal, {"account_created_at": "2026-03-08T12:05:00Z"}))
	h.account_age_days == 0
}

test_account_at_the_age_limit_does_not_fire if {
	not _hit(object.union(_withdrawal, {"account_created_at": "2026-03-01T12:00:00Z"}))
	not _hit(object.union(_withdrawal, {"account_created_at": "2025-01-01T00:00:00Z"}))
}

test_just_below_amount_threshold_does_not_fire if {
	not _hit(object.union(_withdrawal, {"amount": 999.99}))
}

test_currency_without_threshold_does_not_fire if {
	not _hit(object.union(_withdrawal, {"currency": "USD", "amount": 1e6}))
}

test_absent_fields_do_not_fire if {
	every field in ["type", "ts", "account_created_at", "amount", "currency"] {
		not _hit(object.remove(_withdrawal, [field]))
	}
}

test_malformed_timestamp_does_not_fire if {
	not _hit(object.union(_withdrawal, {"account_created_at": "last week"}))
}

test_other_record_types_do_not_fire if {
	every t in record.types - {"payment", "withdrawal", "transfer"} {
		not _hit(object.union(_withdrawal, {"type": t}))
	}
}
