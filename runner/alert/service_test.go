package alert_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/decision"
)

func TestObserveDedupsOneFingerprint(t *testing.T) {
	kicks := 0
	svc, clk, _ := setup(t, alert.Options{Kick: func() { kicks++ }})

	first := observe(t, svc, rec("t-1", t0, "c1"), hit("card_testing", decision.High, "5 small auths", card("c1")))
	if len(first) != 1 || first[0].Count != 1 || first[0].Status != alert.Open {
		t.Fatalf("first Observe = %+v, want one open alert with count 1", first)
	}
	clk.Advance(time.Minute)
	second := observe(t, svc, rec("t-2", t0.Add(30*time.Second), "c1"), hit("card_testing", decision.High, "7 small auths", card("c1")))
	if len(second) != 1 || second[0].ID != first[0].ID {
		t.Fatalf("second Observe = %+v, want the same alert %d", second, first[0].ID)
	}

	all := listAll(t, svc)
	if len(all) != 1 {
		t.Fatalf("alerts = %d, want 1", len(all))
	}
	a := all[0]
	want := alert.Alert{
		ID: first[0].ID, Fingerprint: alert.Fingerprint("card_testing", decision.Entity{Field: "card_id", Value: "c1"}),
		Rule: "card_testing", Title: "Title of card_testing", Severity: decision.High, Action: decision.Block,
		Entity: decision.Entity{Field: "card_id", Value: "c1"}, Status: alert.Open, Reason: "7 small auths",
		LastRecordID: "t-2", Count: 2, FirstSeen: t0, LastSeen: t0.Add(30 * time.Second),
		CreatedAt: newClock().Now(), UpdatedAt: newClock().Now().Add(time.Minute), PolicyRevision: "rev-1", Version: 2,
	}
	if !equalAlert(a, want) {
		t.Errorf("alert =\n%+v\nwant\n%+v", a, want)
	}
	if got := eventKinds(t, svc, a.ID); !slices.Equal(got, []alert.EventKind{alert.EventRaised, alert.EventRepeated}) {
		t.Errorf("events = %v, want [raised repeated]", got)
	}
	if kicks != 1 {
		t.Errorf("Kick called %d times, want 1 (raise only; a repeat notifies nobody)", kicks)
	}
}

func TestObserveOutOfOrderRecordsWidenSeenWindow(t *testing.T) {
	svc, _, _ := setup(t, alert.Options{})
	h := hit("r", decision.Medium, "x", card("c1"))
	observe(t, svc, rec("b", t0.Add(time.Hour), "c1"), h)
	observe(t, svc, rec("a", t0, "c1"), h)
	observe(t, svc, rec("c", t0.Add(30*time.Minute), "c1"), h)
	a := listAll(t, svc)[0]
	if !a.FirstSeen.Equal(t0) || !a.LastSeen.Equal(t0.Add(time.Hour)) || a.LastRecordID != "c" || a.Count != 3 {
		t.Errorf("first/last seen = %v/%v, last record %s, count %d; want %v/%v, c, 3",
			a.FirstSeen, a.LastSeen, a.LastRecordID, a.Count, t0, t0.Add(time.Hour))
	}
}

func TestObserveAfterResolveRaisesNewAlert(t *testing.T) {
	svc, _, _ := setup(t, alert.Options{})
	ctx := t.Context()
	h := hit("card_testing", decision.High, "x", card("c1"))
	first := observe(t, svc, rec("t-1", t0, "c1"), h)[0]
	if _, err := svc.Resolve(ctx, first.ID, "ana", alert.TruePositive, "blocked the card"); err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	second := observe(t, svc, rec("t-2", t0.Add(time.Minute), "c1"), h)[0]
	if second.ID == first.ID || second.Count != 1 || second.Status != alert.Open {
		t.Fatalf("hit after resolve = %+v, want a new open alert", second)
	}
	if second.Fingerprint != first.Fingerprint {
		t.Errorf("fingerprint changed: %s vs %s", second.Fingerprint, first.Fingerprint)
	}
	// And that new alert dedups as usual.
	third := observe(t, svc, rec("t-3", t0.Add(2*time.Minute), "c1"), h)[0]
	if third.ID != second.ID || third.Count != 2 {
		t.Errorf("repeat of the new alert = id %d count %d, want id %d count 2", third.ID, third.Count, second.ID)
	}
	old, err := svc.Get(ctx, first.ID)
	if err != nil || old.Status != alert.Resolved || old.Count != 1 {
		t.Errorf("resolved alert = %+v, %v; want it untouched", old, err)
	}
}

func TestObserveRaisesNothing(t *testing.T) {
	r := rec("t-1", t0, "c1")
	for _, tc := range []struct {
		name string
		min  decision.Severity
		d    decision.Decision
	}{
		{"no hits", "", decide(r, nil)},
		{"below minimum", decision.High, decide(r, []decision.Hit{
			hit("a", decision.Medium, "x", card("c1")), hit("b", decision.Low, "y", card("c1"))})},
		{"shadow hits only", "", decide(r, nil,
			hit("a", decision.Critical, "x", card("c1")), hit("b", decision.High, "y", nil))},
		{"unknown severity", "", decide(r, []decision.Hit{hit("a", "urgent", "x", card("c1"))})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kicks := 0
			svc, _, _ := setup(t, alert.Options{MinSeverity: tc.min, Kick: func() { kicks++ }})
			as, err := svc.Observe(t.Context(), r, tc.d)
			if err != nil || as != nil {
				t.Fatalf("Observe = %v, %v; want nil, nil", as, err)
			}
			if all := listAll(t, svc); len(all) != 0 {
				t.Errorf("stored alerts = %+v, want none", all)
			}
			if kicks != 0 {
				t.Errorf("Kick called %d times", kicks)
			}
		})
	}
}

func TestObserveMinimumSeverityAndShadowMix(t *testing.T) {
	svc, _, _ := setup(t, alert.Options{MinSeverity: decision.Medium})
	r := rec("t-1", t0, "c1")
	d := decide(r,
		[]decision.Hit{hit("high_rule", decision.High, "x", card("c1")), hit("low_rule", decision.Low, "y", card("c1")),
			hit("medium_rule", decision.Medium, "z", card("c1"))},
		hit("shadow_rule", decision.Critical, "s", card("c1")))
	as, err := svc.Observe(t.Context(), r, d)
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, a := range listAll(t, svc) {
		rules = append(rules, a.Rule)
	}
	slices.Sort(rules)
	if !slices.Equal(rules, []string{"high_rule", "medium_rule"}) || len(as) != 2 {
		t.Errorf("alerted rules = %v (returned %d), want [high_rule medium_rule]", rules, len(as))
	}
}

func TestObserveEntityAndRuleInfo(t *testing.T) {
	info := map[string]alert.RuleInfo{"card_testing": {Owner: "payments-risk", Runbook: "https://wiki/ct", Tags: []string{"card", "velocity"}}}
	svc, _, _ := setup(t, alert.Options{RuleInfo: func(rule string) (alert.RuleInfo, bool) {
		i, ok := info[rule]
		return i, ok
	}})
	untitled := decision.Hit{Rule: "big_amount", Severity: decision.Medium, Action: decision.Review, Reason: "amount 9000"}
	observe(t, svc, rec("t-1", t0, "c1"), hit("card_testing", decision.High, "x", card("c1")), untitled)
	// No entity: each record is its own alert, keyed by record id.
	observe(t, svc, rec("t-2", t0, "c1"), untitled)
	// An entity whose value is empty (field absent) falls back to the record id too.
	observe(t, svc, rec("t-3", t0, ""), decision.Hit{Rule: "big_amount", Severity: decision.Medium, Action: decision.Review,
		Reason: "amount 9000", Entity: &decision.Entity{Field: "card_id"}})

	byEntity := map[string]alert.Alert{}
	for _, a := range listAll(t, svc) {
		byEntity[a.Rule+" "+a.Entity.String()] = a
	}
	if len(byEntity) != 4 {
		t.Fatalf("alerts = %v, want 4 distinct", byEntity)
	}
	ct := byEntity["card_testing card_id=c1"]
	if ct.Owner != "payments-risk" || ct.Runbook != "https://wiki/ct" || !slices.Equal(ct.Tags, []string{"card", "velocity"}) {
		t.Errorf("card_testing rule info = %q %q %v", ct.Owner, ct.Runbook, ct.Tags)
	}
	for _, id := range []string{"t-1", "t-2", "t-3"} {
		a, ok := byEntity["big_amount id="+id]
		if !ok {
			t.Errorf("no big_amount alert for id=%s", id)
			continue
		}
		if a.Title != "big_amount" || a.Owner != "" || a.Tags != nil || a.Action != decision.Review {
			t.Errorf("big_amount alert = title %q owner %q tags %v action %s", a.Title, a.Owner, a.Tags, a.Action)
		}
	}
}

func TestObserveKeepsLatestRecords(t *testing.T) {
	svc, _, _ := setup(t, alert.Options{KeepRecords: 3})
	h := hit("r", decision.High, "x", card("c1"))
	var id int64
	for i := range 5 {
		id = observe(t, svc, rec("t-"+string(rune('1'+i)), t0.Add(time.Duration(i)*time.Second), "c1"), h)[0].ID
	}
	rs, err := svc.Records(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.RecordID)
	}
	if !slices.Equal(ids, []string{"t-3", "t-4", "t-5"}) {
		t.Fatalf("kept records = %v, want the latest 3 [t-3 t-4 t-5]", ids)
	}
	last := rs[2]
	var fields map[string]any
	if err := json.Unmarshal(last.Fields, &fields); err != nil || fields["card_id"] != "c1" || fields["amount"] != 12.5 {
		t.Errorf("stored record fields = %s (%v)", last.Fields, err)
	}
	var d decision.Decision
	if err := json.Unmarshal(last.Decision, &d); err != nil || d.RecordID != "t-5" || d.Action != decision.Block || len(d.Hits) != 1 {
		t.Errorf("stored decision = %s (%v)", last.Decision, err)
	}
	if !last.Time.Equal(t0.Add(4 * time.Second)) {
		t.Errorf("record time = %v, want %v", last.Time, t0.Add(4*time.Second))
	}
}

func TestObserveConcurrentOneFingerprint(t *testing.T) {
	svc, _, path := setup(t, alert.Options{})
	// A second pool on the same file stands in for a second process.
	other := newService(t, openDB(t, path), alert.Options{})
	const goroutines, each = 8, 15
	h := hit("card_testing", decision.High, "x", card("c1"))
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		s := svc
		if g%2 == 1 {
			s = other
		}
		wg.Go(func() {
			for i := range each {
				r := rec("g"+string(rune('a'+g))+"-"+string(rune('a'+i)), t0, "c1")
				if _, err := s.Observe(context.Background(), r, decide(r, []decision.Hit{h})); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Observe: %v", err)
	}
	all := listAll(t, svc)
	if len(all) != 1 || all[0].Count != goroutines*each {
		t.Fatalf("alerts = %d (count %d), want 1 with count %d", len(all), all[0].Count, goroutines*each)
	}
	kinds := eventKinds(t, svc, all[0].ID)
	if len(kinds) != goroutines*each || kinds[0] != alert.EventRaised {
		t.Errorf("events = %d starting %v, want %d starting with raised", len(kinds), kinds[0], goroutines*each)
	}
	if all[0].Version != goroutines*each {
		t.Errorf("version = %d, want %d", all[0].Version, goroutines*each)
	}
}

func TestObserveSurvivesRestart(t *testing.T) {
	svc, _, path := setup(t, alert.Options{})
	h := hit("r", decision.High, "x", card("c1"))
	first := observe(t, svc, rec("t-1", t0, "c1"), h)[0]
	// A new pool and service over the same file, as after a restart.
	again := newService(t, openDB(t, path), alert.Options{})
	got := observe(t, again, rec("t-2", t0, "c1"), h)[0]
	if got.ID != first.ID || got.Count != 2 {
		t.Errorf("after restart = id %d count %d, want id %d count 2", got.ID, got.Count, first.ID)
	}
}

func TestList(t *testing.T) {
	svc, _, _ := setup(t, alert.Options{})
	ctx := t.Context()
	// ids 1..6
	observe(t, svc, rec("t-1", t0, "c1"), hit("card_testing", decision.High, "x", card("c1")))
	observe(t, svc, rec("t-2", t0, "c2"), hit("card_testing", decision.Medium, "x", card("c2")))
	observe(t, svc, rec("t-3", t0, "c1"), hit("big_amount", decision.High, "x", card("c1")))
	observe(t, svc, rec("t-4", t0, "c3"), hit("big_amount", decision.Low, "x", &decision.Entity{Field: "customer_id", Value: "c1"}))
	observe(t, svc, rec("t-5", t0, "c5"), hit("card_testing", decision.Critical, "x", card("c5")))
	observe(t, svc, rec("t-6", t0, "c6"), hit("geo", decision.High, "x", card("c6")))
	if _, err := svc.Ack(ctx, 2, "ana", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Resolve(ctx, 5, "ana", alert.Benign, ""); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		f    alert.Filter
		want []int64
	}{
		{"all newest first", alert.Filter{}, []int64{6, 5, 4, 3, 2, 1}},
		{"status", alert.Filter{Status: alert.Open}, []int64{6, 4, 3, 1}},
		{"status resolved", alert.Filter{Status: alert.Resolved}, []int64{5}},
		{"rule", alert.Filter{Rule: "card_testing"}, []int64{5, 2, 1}},
		{"severity", alert.Filter{Severity: decision.High}, []int64{6, 3, 1}},
		{"entity field=value", alert.Filter{Entity: "card_id=c1"}, []int64{3, 1}},
		{"entity bare value", alert.Filter{Entity: "c1"}, []int64{4, 3, 1}},
		{"combined", alert.Filter{Rule: "card_testing", Status: alert.Open, Severity: decision.High}, []int64{1}},
		{"page 1", alert.Filter{Limit: 4}, []int64{6, 5, 4, 3}},
		{"page 2", alert.Filter{Limit: 4, Before: 3}, []int64{2, 1}},
		{"none", alert.Filter{Rule: "nope"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as, err := svc.List(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, a := range as {
				ids = append(ids, a.ID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("List(%+v) = %v, want %v", tc.f, ids, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		f    alert.Filter
		want string
	}{
		{alert.Filter{Status: "closed"}, `status "closed"`},
		{alert.Filter{Severity: "urgent"}, `severity "urgent"`},
		{alert.Filter{Limit: -1}, "must not be negative"},
	} {
		_, err := svc.List(ctx, tc.f)
		if !errors.Is(err, alert.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("List(%+v) error = %v, want ErrInvalid mentioning %s", tc.f, err, tc.want)
		}
	}
}

func TestNotFound(t *testing.T) {
	svc, _, _ := setup(t, alert.Options{})
	ctx := t.Context()
	observe(t, svc, rec("t-1", t0, "c1"), hit("r", decision.High, "x", card("c1")))
	_, errGet := svc.Get(ctx, 42)
	_, errRecords := svc.Records(ctx, 42)
	_, errEvents := svc.Events(ctx, 42)
	_, errAck := svc.Ack(ctx, 42, "ana", "")
	_, errResolve := svc.Resolve(ctx, 42, "ana", alert.Benign, "")
	for name, err := range map[string]error{"Get": errGet, "Records": errRecords, "Events": errEvents, "Ack": errAck, "Resolve": errResolve} {
		if !errors.Is(err, alert.ErrNotFound) || !strings.Contains(err.Error(), "alert 42") {
			t.Errorf("%s(42) error = %v, want ErrNotFound naming alert 42", name, err)
		}
	}
}

func TestNewServiceRejectsBadOptions(t *testing.T) {
	db := openDB(t, t.TempDir()+"/x.db")
	store := newStore(t, db)
	for _, tc := range []struct {
		opts alert.Options
		want string
	}{
		{alert.Options{MinSeverity: "urgent"}, `min severity: severity "urgent"`},
		{alert.Options{KeepRecords: -1}, "keep records -1"},
	} {
		if _, err := alert.NewService(store, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewService(%+v) error = %v, want it to mention %q", tc.opts, err, tc.want)
		}
	}
	if _, err := alert.NewService(nil, alert.Options{}); err == nil {
		t.Error("NewService(nil store) succeeded")
	}
}

func TestFingerprintIsStable(t *testing.T) {
	fp := alert.Fingerprint("card_testing", decision.Entity{Field: "card_id", Value: "c1"})
	// Pinned (sha256 of "card_testing\x00card_id\x00c1", first 16 bytes, checked with Python):
	// a changed fingerprint would split every open alert in two after an upgrade.
	if fp != "5696b809af70adfd1ed232e39ac746c2" {
		t.Errorf("Fingerprint = %s", fp)
	}
	// Field boundaries matter: rule "ab"+field "c" is not rule "a"+field "bc".
	if alert.Fingerprint("ab", decision.Entity{Field: "c", Value: "d"}) == alert.Fingerprint("a", decision.Entity{Field: "bc", Value: "d"}) {
		t.Error("fingerprint ignores field boundaries")
	}
}
