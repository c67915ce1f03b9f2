package alert

import (
	"slices"
	"strconv"
	"strings"
)

// Labels is an alert's identity for routing, silences and inhibition
// (package notify), as Alertmanager's label sets are: name → value, where an
// empty value is the same as no label.
type Labels map[string]string

// The labels every alert carries (those with an empty value are left out).
// Notify adds the runner's own, such as env.
const (
	LabelAlertname   = "alertname"    // the rule, under Alertmanager's conventional name
	LabelRule        = "rule"         // the rule
	LabelSeverity    = "severity"     // low, medium, high, critical
	LabelAction      = "action"       // allow, review, block: what the hit asked for
	LabelOwner       = "owner"        // the rule's owner
	LabelEntity      = "entity"       // the entity's value, e.g. the card token
	LabelEntityField = "entity_field" // the record field the entity comes from, e.g. card_id
	LabelTags        = "tags"         // the rule's tags as ",a,b," (see TagsValue)
)

// Labels returns the alert's label set. It allocates a new map each call.
func (a *Alert) Labels() Labels {
	l := make(Labels, 8)
	l.set(LabelAlertname, a.Rule)
	l.set(LabelRule, a.Rule)
	l.set(LabelSeverity, string(a.Severity))
	l.set(LabelAction, string(a.Action))
	l.set(LabelOwner, a.Owner)
	l.set(LabelEntity, a.Entity.Value)
	l.set(LabelEntityField, a.Entity.Field)
	l.set(LabelTags, TagsValue(a.Tags))
	return l
}

func (l Labels) set(name, value string) {
	if value != "" {
		l[name] = value
	}
}

// TagsValue is the tags label of a rule with these tags: sorted, joined by
// commas, with a comma at both ends — ",card,velocity," — so that one tag
// matches with tags=~".*,card,.*" and a tag that merely contains "card"
// (such as "giftcard") does not. No tags give "".
func TagsValue(tags []string) string {
	if len(tags) == 0 {
		return ""
	}
	sorted := slices.Clone(tags)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	return "," + strings.Join(sorted, ",") + ","
}

// Names returns the label names, sorted.
func (l Labels) Names() []string {
	names := make([]string, 0, len(l))
	for n, v := range l {
		if v != "" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// String renders the set as Alertmanager does: {a="1", b="2"}, sorted by name.
func (l Labels) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range l.Names() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(l[n]))
	}
	b.WriteByte('}')
	return b.String()
}
