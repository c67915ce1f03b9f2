package risk.rules.login_country_mismatch_test

import data.risk.lib.record
import data.risk.rules.login_country_mismatch

_login := {
	"id": "l-1", "ts": "2026-03-01T10:00:00Z", "type": "login",
	"customer_id": "cus-1", "success": true, "ip_country": "BR", "billing_country": "PT",
}

_hit(r) := h if {
	h := login_country_mismatch.hit with input as {"record": r}
}

test_fires_on_successful_login_abroad if {
	_hit(_login) == {
		"reason": "successful login from an IP located in BR; billing country is PT",
		"ip_country": "BR",
		"billing_country": "PT",
	}
}

test_failed_login_does_not_fire if {
	not _hit(object.union(_login, {"success": false}))
}

test_login_from_billing_country_does_not_fire if {
	not _hit(object.union(_login, {"ip_country": "PT"}))
}

test_absent_fields_do_not_fire if {
	every field in ["type", "success", "ip_country", "billing_country"] {
		not _hit(object.remove(_login, [field]))
	}
}

test_other_record_types_do_not_fire if {
	every t in record.types - {"login"} {
		not _hit(object.union(_login, {"type": t}))
	}
}
