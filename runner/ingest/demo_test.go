package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/ingest"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/policy"
	"github.com/vigil-risk/vigil/runner/record"
)

// demoTime is the event time of every demo record in these tests: 14:00 UTC,
// outside the night window of the withdrawal rule.
var demoTime = time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return demoTime }

func TestDemoRecordsAreValid(t *testing.T) {
	const n = 5000
	c := newCollector()
	demo := &ingest.Demo{FraudRate: 0.2, Seed: 1, Count: n, Normalizer: shippedNormalizer(t), Now: fixedNow}
	if err := demo.Run(t.Context(), c); err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := c.collected()
	if len(got) != n {
		t.Fatalf("%d records delivered, want %d", len(got), n)
	}
	types := map[string]int{}
	for i, e := range got {
		if e.dead != nil {
			t.Fatalf("record %d is a dead letter: %v\n%s", i, e.dead, e.dead.Raw)
		}
		if want := fmt.Sprintf("demo-%08d", i+1); e.rec.ID != want || e.pos.Index != i || e.pos.Source != "demo" {
			t.Fatalf("record %d: id %s at %+v, want %s at index %d of demo", i, e.rec.ID, e.pos, want, i)
		}
		if !e.rec.Time.Equal(demoTime) {
			t.Fatalf("record %d at %v, want the time of Now %v", i, e.rec.Time, demoTime)
		}
		types[e.rec.Type]++
	}
	for _, typ := range []string{"payment", "login", "withdrawal"} {
		if types[typ] < n/20 {
			t.Errorf("only %d %s records of %d: %v", types[typ], typ, n, types)
		}
	}
}

func TestGeneratorIsDeterministic(t *testing.T) {
	type labelled struct {
		rec     map[string]any
		pattern string
	}
	run := func(seed int64) []labelled {
		g := ingest.NewGenerator(seed, 0.3)
		out := make([]labelled, 500)
		for i := range out {
			out[i].rec, out[i].pattern = g.NextLabelled(demoTime.Add(time.Duration(i) * time.Second))
		}
		return out
	}
	a, b := run(7), run(7)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave different records")
	}
	if reflect.DeepEqual(a, run(8)) {
		t.Fatal("different seeds gave the same records")
	}
	g := ingest.NewGenerator(7, 0.3)
	for i := range 50 {
		if rec := g.Next(demoTime.Add(time.Duration(i) * time.Second)); !reflect.DeepEqual(rec, a[i].rec) {
			t.Fatalf("record %d: Next and NextLabelled disagree:\n%v\n%v", i, rec, a[i].rec)
		}
	}
	frauds := 0
	for _, l := range a {
		if l.pattern != "" {
			frauds++
		}
	}
	if frauds < 100 || frauds > 200 { // 30% of 500, give or take
		t.Errorf("%d of 500 records carry a pattern at fraud rate 0.3", frauds)
	}
	if clean := ingest.NewGenerator(7, 0); slices.ContainsFunc(make([]int, 200), func(int) bool {
		_, p := clean.NextLabelled(demoTime)
		return p != ""
	}) {
		t.Error("fraud rate 0 injected a pattern")
	}
}

func TestDemoPacing(t *testing.T) {
	t.Run("count stops it", func(t *testing.T) {
		c := newCollector()
		err := (&ingest.Demo{Rate: 1000, Count: 3, Normalizer: shippedNormalizer(t)}).Run(t.Context(), c)
		if err != nil || len(c.collected()) != 3 {
			t.Fatalf("Run = %v after %d records, want nil after 3", err, len(c.events))
		}
	})
	t.Run("no wait after the last record", func(t *testing.T) {
		c := newCollector()
		run := start(t, &ingest.Demo{Rate: 0.001, Count: 1, Normalizer: shippedNormalizer(t)}, c)
		if err := run.wait(t); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
	})
	t.Run("a tiny rate honours the context", func(t *testing.T) {
		c := newCollector()
		run := start(t, &ingest.Demo{Rate: 0.001, Normalizer: shippedNormalizer(t)}, c)
		c.next(t) // the first record comes at once, the next in 1000 s
		if err := run.stop(t); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
		if n := len(c.collected()); n != 0 {
			t.Fatalf("%d more records delivered", n)
		}
	})
	t.Run("unpaced honours the context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		c := newCollector()
		c.before = func(rec record.Record) error {
			if rec.ID == "demo-00000010" {
				cancel()
			}
			return nil
		}
		err := (&ingest.Demo{Normalizer: shippedNormalizer(t)}).Run(ctx, c)
		if !errors.Is(err, context.Canceled) || len(c.collected()) != 10 {
			t.Fatalf("Run = %v after %d records, want context.Canceled after 10", err, len(c.events))
		}
	})
	t.Run("handler error", func(t *testing.T) {
		c := newCollector()
		c.before = func(record.Record) error { return errRefused }
		err := (&ingest.Demo{Count: 5, Normalizer: shippedNormalizer(t)}).Run(t.Context(), c)
		if !errors.Is(err, errRefused) {
			t.Fatalf("Run = %v, want the handler's error", err)
		}
	})
	t.Run("no normaliser", func(t *testing.T) {
		err := (&ingest.Demo{Count: 5}).Run(t.Context(), newCollector())
		if err == nil || err.Error() != "demo: no Normalizer set" {
			t.Fatalf("Run = %v", err)
		}
	})
}

// patternRules is the rule each injected pattern is made to trip in the
// shipped starter pack.
var patternRules = map[string]string{
	"stolen_card":         "blocked_card",
	"foreign_ip":          "card_ip_country_mismatch",
	"gambling":            "high_risk_mcc",
	"new_account":         "new_account_large_amount",
	"large_payment":       "large_payment",
	"disposable_email":    "disposable_email",
	"sanctioned_country":  "sanctioned_country",
	"credential_stuffing": "login_brute_force",
	"cash_out":            "withdrawal_new_destination",
	"structuring":         "structuring", // a shadow rule
}

func TestDemoFraudFiresShippedPolicy(t *testing.T) {
	const n, seed, fraudRate = 2000, 42, 0.2
	engine, err := policy.NewEngine(t.Context(), "../../policies", nil)
	if err != nil {
		t.Fatal(err)
	}
	pipe, err := pipeline.New(engine, pipeline.Options{Env: "test"})
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		id    string
		hits  []string
		allow bool
	}
	var got []outcome
	demo := &ingest.Demo{FraudRate: fraudRate, Seed: seed, Count: n, Normalizer: pipe.Normalizer, Now: fixedNow}
	err = pipe.Run(t.Context(), demo, func(rec record.Record, d *decision.Decision) {
		o := outcome{id: rec.ID, allow: d.Action == decision.Allow}
		for _, h := range slices.Concat(d.Hits, d.ShadowHits) {
			o.hits = append(o.hits, h.Rule)
		}
		got = append(got, o)
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(got) != n {
		t.Fatalf("%d decisions, want %d", len(got), n)
	}

	// The same seed again tells which record carries which pattern.
	g := ingest.NewGenerator(seed, fraudRate)
	seen := map[string]int{}
	clean, cleanAllowed := 0, 0
	for i, o := range got {
		raw, pattern := g.NextLabelled(demoTime)
		if raw["id"] != o.id {
			t.Fatalf("decision %d is for %s, the generator made %s", i, o.id, raw["id"])
		}
		if pattern == "" {
			clean++
			if o.allow && len(o.hits) == 0 {
				cleanAllowed++
			} else {
				t.Logf("clean record %s: hits %v", o.id, o.hits)
			}
			continue
		}
		seen[pattern]++
		rule, known := patternRules[pattern]
		if !known {
			t.Errorf("record %s: unknown pattern %q", o.id, pattern)
			continue
		}
		if !slices.Contains(o.hits, rule) {
			t.Errorf("record %s (%s): hits %v, want %s among them", o.id, pattern, o.hits, rule)
		}
	}
	for pattern := range patternRules {
		if seen[pattern] == 0 {
			t.Errorf("pattern %s never injected in %d records", pattern, n)
		}
	}
	if cleanAllowed < clean*99/100 {
		t.Errorf("%d of %d clean records allowed without a hit, want nearly all", cleanAllowed, clean)
	}
	t.Logf("patterns %v; %d of %d clean records allowed", seen, cleanAllowed, clean)
}

func TestDemoDeadLetters(t *testing.T) {
	// A schema the demo records do not fit: every one is a dead letter with
	// what was generated, and the stream goes on.
	s, err := record.ParseSchema([]byte("version: 1\nunknown_fields: reject\nfields:\n  id: string\n  ts: timestamp\n  type: string\n"), "tiny.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n, err := record.NewNormalizer(s, record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	if err := (&ingest.Demo{Count: 3, Normalizer: func() *record.Normalizer { return n }}).Run(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	got := c.collected()
	if len(got) != 3 {
		t.Fatalf("%d delivered, want 3", len(got))
	}
	for i, e := range got {
		if e.dead == nil || e.dead.Source != "demo" || e.dead.Index != i || len(e.dead.Errors) == 0 ||
			!strings.Contains(e.dead.Raw, fmt.Sprintf(`"id":"demo-%08d"`, i+1)) {
			t.Errorf("event %d = %+v, want a dead letter holding the generated record", i, e.dead)
		}
	}
}
