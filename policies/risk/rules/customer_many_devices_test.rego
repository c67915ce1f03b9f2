package risk.rules.customer_many_devices_test

import data.risk.lib.record
import data.risk.rules.customer_many_devices

_login := {
	"id": "l-1", "ts": "2026-03-13T18:30:00Z", "type": "login",
	"customer_id": "cus-1", "device_id": "dev-4", "success": true,
}

_hit(r, devices) := h if {
	h := customer_many_devices.hit with input as {"record": r, "features": {"customer_device_distinct_24h": devices}}
		with data.risk.config.customer_many_devices as {"min_devices": 4}
}

test_fires_at_the_limit if {
	_hit(_login, 4) == {
		"reason": "4 distinct devices used by this customer within 24 hours (limit 4)",
		"devices": 4, "limit": 4,
	}
}

test_fires_on_money_movements_and_credential_changes if {
	every t in ["payment", "withdrawal", "transfer", "credential_change"] {
		h := _hit(object.union(_login, {"type": t}), 7)
		h.reason == "7 distinct devices used by this customer within 24 hours (limit 4)"
	}
}

test_just_below_the_limit_does_not_fire if {
	not _hit(_login, 3)
	not _hit(_login, 1)
}

test_absent_feature_does_not_fire if {
	not customer_many_devices.hit with input as {"record": _login, "features": {}}
		with data.risk.config.customer_many_devices as {"min_devices": 4}
	not customer_many_devices.hit with input as {"record": _login}
		with data.risk.config.customer_many_devices as {"min_devices": 4}
}

test_absent_type_does_not_fire if {
	not _hit(object.remove(_login, ["type"]), 9)
}

test_other_record_types_do_not_fire if {
	every t in record.types - {"login", "payment", "withdrawal", "transfer", "credential_change"} {
		not _hit(object.union(_login, {"type": t}), 9)
	}
}

test_shipped_config_has_a_limit if {
	customer_many_devices.hit with input as {"record": _login, "features": {"customer_device_distinct_24h": 1e6}}
}
