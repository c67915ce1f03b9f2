package risk.rules.credential_change_foreign_ip_test

import data.risk.lib.record
import data.risk.rules.credential_change_foreign_ip

_change := {
	"id": "cc-1", "ts": "2026-03-01T10:00:00Z", "type": "credential_change",
	"customer_id": "cus-1", "ip_country": "RU", "billing_country": "DE",
}

_hit(r) := h if {
	h := credential_change_foreign_ip.hit with input as {"record": r}
}

test_fires_on_change_from_abroad if {
	_hit(_change) == {
		"reason": "credential change from an IP located in RU; billing country is DE",
		"ip_country": "RU",
		"billing_country": "DE",
	}
}

test_change_from_billing_country_does_not_fire if {
	not _hit(object.union(_change, {"ip_country": "DE"}))
}

test_absent_fields_do_not_fire if {
	every field in ["type", "ip_country", "billing_country"] {
		not _hit(object.remove(_change, [field]))
	}
}

test_other_record_types_do_not_fire if {
	every t in record.types - {"credential_change"} {
		not _hit(object.union(_change, {"type": t}))
	}
}
