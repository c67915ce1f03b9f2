# A Rego unit test: part of the bundle on disk, never loaded for decisions.
# Its package has no METADATA, so loading it would fail the bundle.
package risk.rules.big_amount_test

import data.risk.rules.big_amount

test_fires_above_limit if {
	big_amount.hit with input as {"record": {"type": "payment", "amount": 6000, "currency": "USD"}}
}
