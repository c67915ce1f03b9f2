package risk.rules.high_risk_mcc_test

import data.risk.lib.record
import data.risk.rules.high_risk_mcc

_config := {"min_amount": {"EUR": 500, "USD": 550}}

_mccs := {"7995": "gambling", "6051": "quasi-cash"}

_payment := {
	"id": "p-1", "ts": "2026-03-01T10:00:00Z", "type": "payment",
	"card_id": "c-1", "merchant_id": "m-1", "mcc": "7995", "amount": 500, "currency": "EUR",
}

_hit(r) := h if {
	h := high_risk_mcc.hit with input as {"record": r}
		with data.risk.config.high_risk_mcc as _config
		with data.risk.lists.high_risk_mccs as _mccs
}

test_fires_at_threshold if {
	_hit(_payment) == {
		"reason": "payment of 500 EUR at a gambling merchant (MCC 7995) is at or above the 500 EUR high-risk category threshold",
		"mcc": "7995", "category": "gambling",
		"amount": 500, "currency": "EUR", "threshold": 500,
	}
}

test_fires_for_each_listed_category if {
	h := _hit(object.union(_payment, {"mcc": "6051", "amount": 812.4, "currency": "USD"}))
	h.reason == "payment of 812.40 USD at a quasi-cash merchant (MCC 6051) is at or above the 550 USD high-risk category threshold"
}

test_just_below_threshold_does_not_fire if {
	not _hit(object.union(_payment, {"amount": 499.99}))
}

test_unlisted_category_does_not_fire if {
	not _hit(object.union(_payment, {"mcc": "5411", "amount": 9000}))
}

test_currency_without_threshold_does_not_fire if {
	not _hit(object.union(_payment, {"currency": "GBP", "amount": 9000}))
}

test_absent_fields_do_not_fire if {
	every field in ["type", "mcc", "amount", "currency"] {
		not _hit(object.remove(_payment, [field]))
	}
}

test_other_record_types_do_not_fire if {
	every t in record.types - {"payment"} {
		not _hit(object.union(_payment, {"type": t}))
	}
}

test_shipped_lists_cover_the_named_categories if {
	every mcc in ["7995", "6051", "4829", "6211", "5967"] {
		high_risk_mcc.hit with input as {"record": object.union(_payment, {"mcc": mcc, "amount": 1e6})}
	}
}
