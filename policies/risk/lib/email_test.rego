package risk.lib.email_test

import data.risk.lib.email

test_domain if {
	email.domain("ana@mailinator.com") == "mailinator.com"
	email.domain("a.b+tag@sub.example.org") == "sub.example.org"
}

test_domain_undefined_for_malformed_addresses if {
	every address in ["ana", "ana@", "@mailinator.com", "a@b@c.com", ""] {
		not email.domain(address)
	}
}
