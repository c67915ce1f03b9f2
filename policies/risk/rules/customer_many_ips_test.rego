package risk.rules.customer_many_ips_test

import data.risk.lib.record
import data.risk.rules.customer_many_ips

_login := {
	"id": "l-1", "ts": "2026-03-13T18:30:00Z", "type": "login",
	"customer_id": "cus-1", "ip": "192.0.2.8", "success": true,
}

_hit(r, ips) := h if {
	h := customer_many_ips.hit with input as {"record": r, "features": {"customer_ip_distinct_24h": ips}}
		with data.risk.config.customer_many_ips as {"min_ips": 8}
}

test_fires_at_the_limit if {
	_hit(_login, 8) == {
		"reason": "8 distinct IP addresses used by this customer within 24 hours (limit 8)",
		"ips": 8, "limit": 8,
	}
}

test_fires_on_money_movements_and_credential_changes if {
	every t in ["payment", "withdrawal", "transfer", "credential_change"] {
		h := _hit(object.union(_login, {"type": t}), 12)
		h.reason == "12 distinct IP addresses used by this customer within 24 hours (limit 8)"
	}
}

test_just_below_the_limit_does_not_fire if {
	not _hit(_login, 7)
	not _hit(_login, 1)
}

test_absent_feature_does_not_fire if {
	not customer_many_ips.hit with input as {"record": _login, "features": {}}
		with data.risk.config.customer_many_ips as {"min_ips": 8}
	not customer_many_ips.hit with input as {"record": _login}
		with data.risk.config.customer_many_ips as {"min_ips": 8}
}

test_absent_type_does_not_fire if {
	not _hit(object.remove(_login, ["type"]), 20)
}

test_other_record_types_do_not_fire if {
	every t in record.types - {"login", "payment", "withdrawal", "transfer", "credential_change"} {
		not _hit(object.union(_login, {"type": t}), 20)
	}
}

test_shipped_config_has_a_limit if {
	customer_many_ips.hit with input as {"record": _login, "features": {"customer_ip_distinct_24h": 1e6}}
}
