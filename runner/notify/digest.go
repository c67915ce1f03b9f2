package notify

import (
	"maps"
	"strconv"

	"github.com/vigil-risk/vigil/runner/alert"
)

// digest merges messages that waited for one receiver, oldest first, into
// one: every alert once, as the latest message had it, firing ones first;
// the group labels all of them share; Digest, the number of group
// notifications inside.
func digest(receiver string, msgs []*Message) *Message {
	out := &Message{Receiver: receiver, Status: Resolved, Locale: msgs[0].Locale, LinkBase: msgs[0].LinkBase}
	latest := map[int64]int{} // alert ID → index in all
	var all []alert.Alert
	for i, m := range msgs {
		out.Digest += max(m.Digest, 1)
		if i == 0 {
			out.GroupKey, out.GroupLabels = m.GroupKey, maps.Clone(m.GroupLabels)
		} else {
			if out.GroupKey != m.GroupKey {
				out.GroupKey = ""
			}
			for k, v := range out.GroupLabels {
				if m.GroupLabels[k] != v {
					delete(out.GroupLabels, k)
				}
			}
		}
		for _, a := range m.Alerts {
			if j, ok := latest[a.ID]; ok {
				all[j] = a
				continue
			}
			latest[a.ID] = len(all)
			all = append(all, a)
		}
	}
	out.Alerts = make([]alert.Alert, 0, len(all))
	for _, a := range all {
		if a.Status != alert.Resolved {
			out.Alerts = append(out.Alerts, a)
		}
	}
	if len(out.Alerts) > 0 {
		out.Status = Firing
	}
	for _, a := range all {
		if a.Status == alert.Resolved {
			out.Alerts = append(out.Alerts, a)
		}
	}
	first, last := msgs[0].IdempotencyKey, msgs[len(msgs)-1].IdempotencyKey
	if out.GroupKey == "" {
		out.GroupKey = "digest:" + key(first, last)
	}
	out.IdempotencyKey = key(receiver, "digest", first, last, strconv.Itoa(len(msgs)))
	return out
}
