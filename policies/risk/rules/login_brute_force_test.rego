package risk.rules.login_brute_force_test

import data.risk.lib.record
import data.risk.rules.login_brute_force

_login := {
	"id": "l-1", "ts": "2026-03-01T10:00:00Z", "type": "login",
	"customer_id": "cus-1", "success": false, "failed_attempts": 10,
}

_hit(r) := h if {
	h := login_brute_force.hit with input as {"record": r}
		with data.risk.config.login_brute_force as {"min_failed_attempts": 10}
}

test_fires_at_limit if {
	_hit(_login) == {
		"reason": "login after 10 failed attempts (limit 10)",
		"failed_attempts": 10,
		"limit": 10,
	}
}

test_fires_above_limit_even_when_the_login_succeeds if {
	h := _hit(object.union(_login, {"failed_attempts": 37, "success": true}))
	h.reason == "login after 37 failed attempts (limit 10)"
}

test_just_below_limit_does_not_fire if {
	not _hit(object.union(_login, {"failed_attempts": 9}))
	not _hit(object.union(_login, {"failed_attempts": 0}))
}

test_absent_fields_do_not_fire if {
	every field in ["type", "failed_attempts"] {
		not _hit(object.remove(_login, [field]))
	}
}

test_other_record_types_do_not_fire if {
	every t in record.types - {"login"} {
		not _hit(object.union(_login, {"type": t}))
	}
}
