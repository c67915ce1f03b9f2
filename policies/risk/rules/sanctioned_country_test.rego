package risk.rules.sanctioned_country_test

import data.risk.rules.sanctioned_country

_sanctioned := {"IR": "Iran", "KP": "North Korea"}

_payment := {
	"id": "p-1", "ts": "2026-03-01T10:00:00Z", "type": "payment",
	"customer_id": "cus-1", "amount": 25, "currency": "EUR",
	"billing_country": "DE", "card_country": "DE", "ip_country": "IR", "merchant_country": "FR",
}

_hit(r) := h if {
	h := sanctioned_country.hit with input as {"record": r}
		with data.risk.lists.sanctioned_countries as _sanctioned
}

test_fires_on_sanctioned_ip_country if {
	_hit(_payment) == {
		"reason": "payment involves a sanctioned country: ip_country IR (Iran)",
		"countries": {"ip_country": "IR"},
	}
}

test_names_every_sanctioned_field_once if {
	h := _hit(object.union(_payment, {"billing_country": "KP", "merchant_country": "IR"}))
	h.reason == "payment involves a sanctioned country: billing_country KP (North Korea), ip_country IR (Iran), merchant_country IR (Iran)"
	h.countries == {"billing_country": "KP", "ip_country": "IR", "merchant_country": "IR"}
}

test_fires_on_each_country_field if {
	clean := object.union(_payment, {"ip_country": "DE"})
	every f in ["billing_country", "card_country", "ip_country", "merchant_country"] {
		_hit(object.union(clean, {f: "KP"}))
	}
}

test_fires_on_logins if {
	h := _hit({"id": "l-1", "ts": "2026-03-01T10:00:00Z", "type": "login", "ip_country": "KP"})
	h.reason == "login involves a sanctioned country: ip_country KP (North Korea)"
}

test_unsanctioned_countries_do_not_fire if {
	not _hit(object.union(_payment, {"ip_country": "DE"}))
}

test_absent_fields_do_not_fire if {
	not _hit(object.remove(_payment, ["ip_country"]))
	not _hit(object.remove(_payment, ["type"]))
}

test_labels_do_not_fire if {
	not _hit(object.union(_payment, {"type": "label"}))
}

test_shipped_list_blocks_its_countries if {
	every code in object.keys(data.risk.lists.sanctioned_countries) {
		sanctioned_country.hit with input as {"record": object.union(_payment, {"ip_country": code})}
	}
}
