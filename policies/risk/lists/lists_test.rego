# Checks on the shipped lists (data.json beside this file), so that a typo in
# an entry fails `opa test` with the entry named instead of silently matching
# nothing. Failing tests print the offending entries.
package risk.lists_test

_lists := data.risk.lists

# _bad_notes are the keys of a list whose entry lacks a note saying why it is there.
_bad_notes(list_name) := {key |
	some key, note in _lists[list_name]
	not _is_note(note)
}

_is_note(note) if {
	is_string(note)
	note != ""
}

test_blocked_cards_have_notes if {
	bad := _bad_notes("blocked_cards")
	print("blocked_cards without a note:", bad)
	count(bad) == 0
}

test_blocked_devices_have_notes if {
	bad := _bad_notes("blocked_devices")
	print("blocked_devices without a note:", bad)
	count(bad) == 0
}

test_blocked_ip_ranges_are_cidrs_with_notes if {
	bad := {cidr | some cidr, _ in _lists.blocked_ip_ranges; not net.cidr_is_valid(cidr)} | _bad_notes("blocked_ip_ranges")
	print("blocked_ip_ranges that are not CIDRs (write 198.51.100.23/32 for one address) or lack a note:", bad)
	count(bad) == 0
}

test_disposable_email_domains_are_lower_case_domains if {
	bad := {domain |
		some domain, flag in _lists.disposable_email_domains
		not _is_domain_flag(domain, flag)
	}
	print("disposable_email_domains that are not lower-case domains mapped to true:", bad)
	count(bad) == 0
}

_is_domain_flag(domain, true) if regex.match(`^[a-z0-9-]+(\.[a-z0-9-]+)+$`, domain)

test_sanctioned_countries_are_country_codes if {
	bad := {code |
		some code, _ in _lists.sanctioned_countries
		not regex.match(`^[A-Z]{2}$`, code)
	} | _bad_notes("sanctioned_countries")
	print("sanctioned_countries that are not upper-case ISO 3166 codes with a name:", bad)
	count(bad) == 0
}

test_high_risk_mccs_are_four_digit_codes if {
	bad := {mcc |
		some mcc, _ in _lists.high_risk_mccs
		not regex.match(`^[0-9]{4}$`, mcc)
	} | _bad_notes("high_risk_mccs")
	print("high_risk_mccs that are not 4-digit codes with a category:", bad)
	count(bad) == 0
}

test_high_risk_bins_are_six_digit_prefixes if {
	bad := {bin |
		some bin, _ in _lists.high_risk_bins
		not regex.match(`^[0-9]{6}$`, bin)
	} | _bad_notes("high_risk_bins")
	print("high_risk_bins that are not 6-digit prefixes with a note:", bad)
	count(bad) == 0
}

test_invalid_entries_are_reported if {
	bad := _bad_notes("blocked_cards") with data.risk.lists.blocked_cards as {"ok": "why", "empty": "", "number": 7}
	bad == {"empty", "number"}
	not _is_domain_flag("Mailinator.com", true)
	not _is_domain_flag("mailinator.com", false)
	not _is_domain_flag("mailinator", true)
}
