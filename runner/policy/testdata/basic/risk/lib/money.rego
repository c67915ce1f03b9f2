# Helpers shared by rules: a library package needs no metadata.
package risk.lib.money

limits := {"USD": 5000, "EUR": 4500}

limit(currency) := object.get(limits, currency, 3000)
