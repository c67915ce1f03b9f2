package risk.rules.disposable_email_test

import data.risk.lib.record
import data.risk.rules.disposable_email

_domains := {"mailinator.com": true, "yopmail.com": true}

_signup := {
	"id": "s-1", "ts": "2026-03-01T10:00:00Z", "type": "signup",
	"customer_id": "cus-1", "email": "jo.smith@mailinator.com",
}

_hit(r) := h if {
	h := disposable_email.hit with input as {"record": r}
		with data.risk.lists.disposable_email_domains as _domains
}

test_fires_on_disposable_domain if {
	_hit(_signup) == {
		"reason": "signup with e-mail address at disposable domain mailinator.com",
		"domain": "mailinator.com",
	}
}

test_fires_on_payments if {
	h := _hit(object.union(_signup, {"type": "payment", "email": "x@yopmail.com"}))
	h.reason == "payment with e-mail address at disposable domain yopmail.com"
}

test_ordinary_domain_does_not_fire if {
	not _hit(object.union(_signup, {"email": "jo.smith@example.com"}))
}

test_subdomain_of_listed_domain_does_not_fire if {
	not _hit(object.union(_signup, {"email": "jo@mailinator.com.example.org"}))
}

test_malformed_address_does_not_fire if {
	not _hit(object.union(_signup, {"email": "mailinator.com"}))
}

test_absent_fields_do_not_fire if {
	every field in ["type", "email"] {
		not _hit(object.remove(_signup, [field]))
	}
}

test_other_record_types_do_not_fire if {
	every t in record.types - {"signup", "payment"} {
		not _hit(object.union(_signup, {"type": t}))
	}
}

test_shipped_list_flags_its_domains if {
	every domain in object.keys(data.risk.lists.disposable_email_domains) {
		disposable_email.hit with input as {"record": object.union(_signup, {"email": concat("@", ["someone", domain])})}
	}
}
