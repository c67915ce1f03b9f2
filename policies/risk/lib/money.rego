# Package risk.lib.money formats amounts for the people who read reasons.
package risk.lib.money

# text renders an amount with its currency: "9500 EUR", "12.50 USD".
# sprintf("%v") would print large floats as "1.2e+06", so the amount is taken
# apart in whole cents, which are integers and print plainly.
text(amount, currency) := sprintf("%d %s", [cents / 100, currency]) if {
	cents := round(amount * 100)
	cents % 100 == 0
} else := sprintf("%d.%02d %s", [(cents - (cents % 100)) / 100, cents % 100, currency]) if {
	cents := round(amount * 100)
}
