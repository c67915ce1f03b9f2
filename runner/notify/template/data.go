package template

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/notify"
)

// Data is what a template sees: one message, or one part of a message that
// had to be split to fit the vendor's size limit.
type Data struct {
	Receiver    string
	Status      string            // "firing" or "resolved": the message's
	GroupLabels map[string]string // the group_by labels and their values
	Alerts      []Alert           // this part's alerts, firing first
	Total       int               // alerts in the whole message
	Firing      int               // of them, still firing
	Resolved    int               // of them, resolved
	Rules       []Rule            // the whole message's alerts per rule: the digest summary
	Digest      int               // > 1: this message merges several held back by the rate limit
	Part, Parts int               // 1-based; Parts > 1 when the message was split
	Compact     bool              // alerts are listed one line each (many alerts, or a split message)
	Locale      string            // "zh" or "en"
	LinkBase    string            // the console's base URL, without a trailing slash; may be empty
	Now         time.Time         // when the message was rendered
}

// Alert is one alert as templates see it: the alert and what the message
// adds to it.
type Alert struct {
	alert.Alert
	Firing bool   // false once resolved
	Link   string // the alert in the console; empty without a link base
	// AckLink and ResolveLink act on the alert once, from the message
	// (/act?t=TOKEN): set for a firing alert when links are signed;
	// AckLink only while the alert is open.
	AckLink     string
	ResolveLink string
	Compact     bool // the message lists alerts one line each
}

// Rule counts a message's alerts of one rule.
type Rule struct {
	Rule     string
	Title    string
	Severity decision.Severity // the highest among its alerts
	Firing   int
	Resolved int
	Hits     int // the alerts' counts added up
}

// ConsoleLink is the console's alert list, or "" without a link base.
func (d *Data) ConsoleLink() string {
	if d.LinkBase == "" {
		return ""
	}
	return d.LinkBase + "/alerts"
}

// First is the part's first alert.
func (d *Data) First() Alert {
	if len(d.Alerts) == 0 {
		return Alert{}
	}
	return d.Alerts[0]
}

// Icon marks an alert by its severity, or as resolved.
func (a Alert) Icon() string {
	if !a.Firing {
		return "✅"
	}
	return severityIcon(a.Severity)
}

// Icon marks a rule by its highest severity, or as resolved.
func (r Rule) Icon() string {
	if r.Firing == 0 {
		return "✅"
	}
	return severityIcon(r.Severity)
}

func severityIcon(s decision.Severity) string {
	switch s {
	case decision.Critical:
		return "🟥"
	case decision.High:
		return "🔴"
	case decision.Medium:
		return "🟠"
	}
	return "🟡"
}

// HighestSeverity is the highest severity among the message's firing
// alerts, or among all of them when none fires.
func (d *Data) HighestSeverity() decision.Severity {
	var best decision.Severity
	for _, r := range d.Rules {
		if (d.Firing == 0 || r.Firing > 0) && r.Severity.Rank() > best.Rank() {
			best = r.Severity
		}
	}
	if best == "" {
		return decision.Low
	}
	return best
}

// newData is the whole message as templates see it; parts copy it and
// narrow Alerts.
func newData(m *notify.Message, locale, linkBase string, links LinkSigner, now time.Time) *Data {
	if m.LinkBase != "" {
		linkBase = m.LinkBase
	}
	linkBase = strings.TrimRight(linkBase, "/")
	d := &Data{
		Receiver: m.Receiver, Status: string(m.Status), GroupLabels: m.GroupLabels,
		Alerts: make([]Alert, len(m.Alerts)), Total: len(m.Alerts), Digest: m.Digest,
		Part: 1, Parts: 1, Locale: locale, LinkBase: linkBase, Now: now,
	}
	if d.Status == "" {
		d.Status = string(notify.Firing)
	}
	rules := map[string]*Rule{}
	for i := range m.Alerts {
		a := &m.Alerts[i]
		firing := a.Status != alert.Resolved
		v := Alert{Alert: *a, Firing: firing}
		if linkBase != "" {
			v.Link = linkBase + "/alerts/" + strconv.FormatInt(a.ID, 10)
			if links != nil && firing {
				v.AckLink, v.ResolveLink = actLinks(links, linkBase, m.Receiver, a)
			}
		}
		d.Alerts[i] = v
		r := rules[a.Rule]
		if r == nil {
			r = &Rule{Rule: a.Rule, Title: a.Title, Severity: a.Severity}
			if r.Title == "" {
				r.Title = a.Rule
			}
			rules[a.Rule] = r
		}
		if a.Severity.Rank() > r.Severity.Rank() {
			r.Severity = a.Severity
		}
		if firing {
			r.Firing++
			d.Firing++
		} else {
			r.Resolved++
			d.Resolved++
		}
		r.Hits += a.Count
	}
	d.Rules = make([]Rule, 0, len(rules))
	for _, r := range rules {
		d.Rules = append(d.Rules, *r)
	}
	// Most urgent first: firing before resolved, then severity, then volume.
	slices.SortFunc(d.Rules, func(a, b Rule) int {
		return cmp.Or(
			cmp.Compare(min(b.Firing, 1), min(a.Firing, 1)),
			cmp.Compare(b.Severity.Rank(), a.Severity.Rank()),
			cmp.Compare(b.Firing+b.Resolved, a.Firing+a.Resolved),
			strings.Compare(a.Rule, b.Rule))
	})
	return d
}

// actLinks signs an alert's Acknowledge (while open) and Resolve links for
// the receiver; a link that cannot be signed is left out.
func actLinks(links LinkSigner, linkBase, receiver string, a *alert.Alert) (ack, resolve string) {
	actor := cmp.Or(receiver, "chat")
	if len(actor) > 64 {
		actor = actor[:64]
	}
	sign := func(action string) string {
		tok, err := links.SignLink(a.ID, action, actor)
		if err != nil {
			return ""
		}
		return linkBase + "/act?t=" + tok
	}
	if a.Status == alert.Open {
		ack = sign("ack")
	}
	return ack, sign("resolve")
}

// compact sets whether alerts are listed one line each.
func (d *Data) compact(on bool) {
	d.Compact = on
	for i := range d.Alerts {
		d.Alerts[i].Compact = on
	}
}

// part is d narrowed to alerts [lo, hi), numbered part of parts. It shares
// d's alerts: templates only read them.
func (d *Data) part(lo, hi, part, parts int) *Data {
	p := *d
	p.Alerts = d.Alerts[lo:hi:hi]
	p.Part, p.Parts = part, parts
	return &p
}

// Example is a message of n alerts (at least 1) over a few rules, firing
// except the last, in the given locale: for previews and for trying an
// operator's templates before they are used.
func Example(n int, locale string) *notify.Message {
	n = max(n, 1)
	first := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	rules := []struct {
		rule, title, titleZH, reason, reasonZH, field string
		sev                                           decision.Severity
		action                                        decision.Action
	}{
		{"card_testing", "Card testing burst", "银行卡测试攻击", "6 small authorisations in 1m", "1 分钟内 6 笔小额授权", "card_id", decision.High, decision.Block},
		{"new_device_high_amount", "High amount from a new device", "新设备大额交易", "amount 9800.00 is 12x the 7-day average", "金额 9800.00 是 7 日均值的 12 倍", "customer_id", decision.Critical, decision.Block},
		{"velocity_ip", "Many customers behind one IP", "同一 IP 多个客户", "14 distinct customers in 10m", "10 分钟内 14 个不同客户", "ip", decision.Medium, decision.Review},
	}
	m := &notify.Message{
		Receiver: "example", GroupKey: "{}/example", GroupLabels: map[string]string{"env": "prod"},
		Status: notify.Firing, Locale: locale, IdempotencyKey: "example-key",
		Alerts: make([]alert.Alert, n),
	}
	for i := range n {
		r := rules[i%len(rules)]
		a := alert.Alert{
			ID: int64(1000 + i), Fingerprint: strconv.Itoa(i), Rule: r.rule, Title: r.title,
			Severity: r.sev, Action: r.action, Entity: decision.Entity{Field: r.field, Value: "e-" + strconv.Itoa(100000+i)},
			Status: alert.Open, Reason: r.reason, Count: 1 + i%7,
			FirstSeen: first.Add(time.Duration(i) * time.Second), LastSeen: first.Add(time.Duration(i)*time.Second + 3*time.Minute),
			CreatedAt: first, UpdatedAt: first, Owner: "payments-risk", Runbook: "https://wiki.example.com/risk/" + r.rule,
			Tags: []string{"card", "velocity"}, PolicyRevision: "3f2a9c1",
		}
		if locale == ZH {
			a.Title, a.Reason = r.titleZH, r.reasonZH
		}
		if i == n-1 && n > 1 {
			a.Status, a.Resolution = alert.Resolved, alert.TruePositive
		}
		m.Alerts[i] = a
	}
	return m
}
