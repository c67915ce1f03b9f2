package risk.rules.card_ip_country_mismatch_test

import data.risk.lib.record
import data.risk.rules.card_ip_country_mismatch

_payment := {
	"id": "p-1", "ts": "2026-03-01T10:00:00Z", "type": "payment",
	"card_id": "c-1", "amount": 25, "currency": "EUR",
	"channel": "ecom", "card_country": "DE", "ip_country": "NG",
}

_hit(r) := h if {
	h := card_ip_country_mismatch.hit with input as {"record": r}
}

test_fires_on_mismatch if {
	_hit(_payment) == {
		"reason": "card-not-present (ecom) payment with a card issued in DE from an IP located in NG",
		"channel": "ecom", "card_country": "DE", "ip_country": "NG",
	}
}

test_fires_on_every_card_not_present_channel if {
	every channel in ["ecom", "moto", "app", "web"] {
		_hit(object.union(_payment, {"channel": channel}))
	}
}

test_card_present_channels_do_not_fire if {
	every channel in ["pos", "atm", "branch"] {
		not _hit(object.union(_payment, {"channel": channel}))
	}
}

test_same_country_does_not_fire if {
	not _hit(object.union(_payment, {"ip_country": "DE"}))
}

test_absent_fields_do_not_fire if {
	every field in ["type", "channel", "card_country", "ip_country"] {
		not _hit(object.remove(_payment, [field]))
	}
}

test_other_record_types_do_not_fire if {
	every t in record.types - {"payment"} {
		not _hit(object.union(_payment, {"type": t}))
	}
}
