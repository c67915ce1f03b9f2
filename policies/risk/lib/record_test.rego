package risk.lib.record_test

import data.risk.lib.record

test_types_match_the_schema_enum if {
	count(record.types) == 8
	"credential_change" in record.types
	"label" in record.types
}

test_card_not_present if {
	every channel in ["ecom", "moto", "app", "web"] {
		record.card_not_present(channel)
	}
	every channel in ["pos", "atm", "branch", "ECOM", ""] {
		not record.card_not_present(channel)
	}
}
