# METADATA
# title: IP address in a blocked range
# description: >-
#   Any customer activity from an IP address inside a range on the blocked-IP
#   list (lists.blocked_ip_ranges: CIDR and why it was blocked; IPv4 and IPv6).
# custom:
#   severity: high
#   action: block
#   mode: enforce
#   entity: ip
#   owner: identity-risk
#   tags: [ip, blocklist]
#   runbook: https://wiki.example.com/risk/blocked_ip
package risk.rules.blocked_ip

hit := {
	"reason": sprintf("%s from IP %s, inside blocked range %s: %s", [input.record.type, ip, cidr, note]),
	"cidr": cidr,
	"list_note": note,
} if {
	input.record.type != "label" # labels carry ground truth and are never judged
	ip := input.record.ip
	ranges := data.risk.lists.blocked_ip_ranges

	# One malformed entry would make the builtin fail for every address, so only
	# valid ranges are matched; lists_test.rego reports the malformed ones.
	valid := {c | some c, _ in ranges; net.cidr_is_valid(c)}
	matches := net.cidr_contains_matches(valid, ip)

	# Ranges may overlap: name the first in sorted order so that hit has one value.
	cidr := min({c | some [c, _] in matches})
	note := ranges[cidr]
}
