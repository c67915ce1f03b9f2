# METADATA
# title: sets_and_nets
# custom:
#   severity: medium
#   action: review
#   mode: enforce
#   entity: id
#   owner: test
package risk.rules.sets_and_nets

hit := {"reason": sprintf("%v", [common])} if {
	tags := {t | some t in input.record.tags}
	common := tags & {"vip", "new", "bad1"}
	count(common) >= 1
	net.cidr_contains_matches(data.cfg.nets, input.record.ip)
	count(net.cidr_contains_matches(data.cfg.nets, input.record.ip)) > 0
}
