package risk.rules.withdrawal_new_destination_test

import data.risk.lib.record
import data.risk.rules.withdrawal_new_destination

_config := {"min_amount": {"EUR": 3000, "GBP": 2700}}

_withdrawal := {
	"id": "w-1", "ts": "2026-03-01T10:00:00Z", "type": "withdrawal",
	"account_id": "acc-1", "amount": 3000, "currency": "EUR",
	"destination_account": "NL91ABNA0417164300", "new_destination": true,
}

_hit(r) := h if {
	h := withdrawal_new_destination.hit with input as {"record": r}
		with data.risk.config.withdrawal_new_destination as _config
}

test_fires_at_threshold if {
	_hit(_withdrawal) == {
		"reason": "withdrawal of 3000 EUR to new destination NL91ABNA0417164300 is at or above the 3000 EUR new-destination threshold",
		"destination_account": "NL91ABNA0417164300",
		"amount": 3000, "currency": "EUR", "threshold": 3000,
	}
}

test_fires_on_transfers_in_other_currencies if {
	h := _hit(object.union(_withdrawal, {"type": "transfer", "amount": 4100.25, "currency": "GBP"}))
	h.reason == "transfer of 4100.25 GBP to new destination NL91ABNA0417164300 is at or above the 2700 GBP new-destination threshold"
}

test_fires_without_destination_account if {
	h := _hit(object.remove(_withdrawal, ["destination_account"]))
	h.reason == "withdrawal of 3000 EUR to new destination (account not given) is at or above the 3000 EUR new-destination threshold"
}

test_known_destination_does_not_fire if {
	not _hit(object.union(_withdrawal, {"new_destination": false}))
}

test_just_below_threshold_does_not_fire if {
	not _hit(object.union(_withdrawal, {"amount": 2999.99}))
}

test_currency_without_threshold_does_not_fire if {
	not _hit(object.union(_withdrawal, {"currency": "JPY", "amount": 1e9}))
}

test_absent_fields_do_not_fire if {
	every field in ["type", "new_destination", "amount", "currency"] {
		not _hit(object.remove(_withdrawal, [field]))
	}
}

test_other_record_types_do_not_fire if {
	every t in record.types - {"withdrawal", "transfer"} {
		not _hit(object.union(_withdrawal, {"type": t}))
	}
}
