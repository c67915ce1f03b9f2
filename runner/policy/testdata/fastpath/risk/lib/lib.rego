# Helpers the fastpath test rules call: functions with several definitions,
# else chains and defaults, complete rules over input and over data only.
package risk.lib

# Several definitions that agree, an else chain and a default.
band(x) := "high" if x >= 100

band(x) := "high" if x >= 1000

band(x) := "low" if {
	x < 100
	x >= 0
} else := "negative" if {
	x < 0
}

default band(_) := "unknown"

# A boolean function with several bodies (as risk.lib.eventtime.in_hours).
odd(n) if n % 2 == 1

odd(n) if n % 2 == -1

# Conflicting definitions: OPA fails the evaluation when both hold.
clash(x) := 1 if x > 10

clash(x) := 2 if x > 20

# A complete rule over input, used by several rules.
is_payment if input.record.type == "payment"

# A complete rule over input with definitions that can conflict.
level := "a" if input.record.amount > 5

level := "b" if input.record.amount > 500

# Data only: folded while planning.
limits := {k: x | some k, v in data.cfg.limits; x := v * 2}

allowed_types := {"payment", "refund"}

# A partial set over input: not in the fragment.
bad_tags contains t if {
	some t in input.record.tags
	startswith(t, "bad")
}
