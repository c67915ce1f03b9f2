package risk.lib.money_test

import data.risk.lib.money

test_text_cases if {
	cases := [
		[0, "EUR", "0 EUR"],
		[5000, "EUR", "5000 EUR"],
		[5000.0, "USD", "5000 USD"],
		[12.5, "USD", "12.50 USD"],
		[9999.99, "GBP", "9999.99 GBP"],
		[0.07, "EUR", "0.07 EUR"],
		[1e6, "JPY", "1000000 JPY"],
		[1234567.5, "CNY", "1234567.50 CNY"],
		[1e12, "EUR", "1000000000000 EUR"],
		[10.005, "EUR", "10.01 EUR"],
	]
	every c in cases {
		money.text(c[0], c[1]) == c[2]
	}
}
