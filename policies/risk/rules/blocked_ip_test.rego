package risk.rules.blocked_ip_test

import data.risk.lib.record
import data.risk.rules.blocked_ip

_ranges := {
	"203.0.113.0/24": "botnet",
	"203.0.113.128/25": "botnet, upper half",
	"198.51.100.23/32": "card-testing proxy",
	"2001:db8:bad::/48": "bulletproof hosting",
}

_login := {
	"id": "l-1", "ts": "2026-03-01T10:00:00Z", "type": "login",
	"customer_id": "cus-1", "ip": "198.51.100.23",
}

_hit(r) := h if {
	h := blocked_ip.hit with input as {"record": r}
		with data.risk.lists.blocked_ip_ranges as _ranges
}

test_fires_on_single_address_range if {
	_hit(_login) == {
		"reason": "login from IP 198.51.100.23, inside blocked range 198.51.100.23/32: card-testing proxy",
		"cidr": "198.51.100.23/32",
		"list_note": "card-testing proxy",
	}
}

test_fires_on_ipv6_range if {
	h := _hit(object.union(_login, {"type": "signup", "ip": "2001:db8:bad:1::42"}))
	h.reason == "signup from IP 2001:db8:bad:1::42, inside blocked range 2001:db8:bad::/48: bulletproof hosting"
}

test_overlapping_ranges_give_one_hit if {
	h := _hit(object.union(_login, {"ip": "203.0.113.200"}))
	h.cidr == "203.0.113.0/24"
}

test_range_edges if {
	_hit(object.union(_login, {"ip": "203.0.113.0"}))
	_hit(object.union(_login, {"ip": "203.0.113.255"}))
	not _hit(object.union(_login, {"ip": "203.0.112.255"}))
	not _hit(object.union(_login, {"ip": "203.0.114.0"}))
	not _hit(object.union(_login, {"ip": "198.51.100.24"}))
	not _hit(object.union(_login, {"ip": "2001:db8:bae::1"}))
}

test_malformed_ip_does_not_fire if {
	not _hit(object.union(_login, {"ip": "not-an-ip"}))
}

test_fires_on_every_activity_type if {
	every t in record.types - {"label"} {
		_hit(object.union(_login, {"type": t}))
	}
}

test_labels_do_not_fire if {
	not _hit(object.union(_login, {"type": "label"}))
}

test_absent_fields_do_not_fire if {
	every field in ["type", "ip"] {
		not _hit(object.remove(_login, [field]))
	}
}

test_shipped_list_blocks_an_address_in_each_range if {
	blocked_ip.hit with input as {"record": object.union(_login, {"ip": "203.0.113.77"})}
	blocked_ip.hit with input as {"record": object.union(_login, {"ip": "198.51.100.23"})}
	blocked_ip.hit with input as {"record": object.union(_login, {"ip": "2001:db8:bad::1"})}
}

test_malformed_range_does_not_disable_the_others if {
	h := blocked_ip.hit with input as {"record": _login}
		with data.risk.lists.blocked_ip_ranges as object.union(_ranges, {"10.0.0.1": "missing its /32"})
	h.cidr == "198.51.100.23/32"
}
