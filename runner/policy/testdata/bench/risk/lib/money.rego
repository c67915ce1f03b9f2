package risk.lib.money

limits := {"USD": 5000, "EUR": 4500, "GBP": 4000}

limit(currency) := object.get(limits, currency, 3000)
