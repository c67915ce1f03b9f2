# Package risk.lib.record holds what several rules and tests know about
# records beyond policies/schema.yaml.
package risk.lib.record

# types are all record types: the enum of `type` in policies/schema.yaml.
types := {"payment", "login", "withdrawal", "transfer", "refund", "signup", "credential_change", "label"}

# card_not_present holds for channels where the card is not shown to a
# terminal. A function rather than a set rule: a rule's value is rebuilt on
# every evaluation, a literal set inside a function body is a constant.
card_not_present(channel) if channel in {"ecom", "moto", "app", "web"}
