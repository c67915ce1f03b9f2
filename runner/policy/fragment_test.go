package policy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vigil-risk/vigil/runner/policy"
)

// testdata/fastpath holds rules written to exercise the fast path's
// fragment (else chains, functions with several definitions and defaults,
// conflicts, iteration, comprehensions, negation, built-in errors, data
// lookups, the whole input, rules reading rules) and what lies outside it
// (with, every, partial sets, non-deterministic built-ins). Random inputs
// decide the same both ways.
const fragmentBundle = "testdata/fastpath"

func TestFragmentModes(t *testing.T) {
	p, err := policy.Load(context.Background(), fragmentBundle)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"every_kw": "prefiltered", "with_kw": "prefiltered", "partial_set": "prefiltered", "nondeterministic": "prefiltered",
	}
	for _, e := range p.Evaluation() {
		mode := want[e.Rule]
		if mode == "" {
			mode = "compiled"
		}
		if e.Mode != mode {
			t.Errorf("rule %s: mode %s (%s), want %s", e.Rule, e.Mode, e.Reason, mode)
		}
		if e.Mode != "compiled" && e.Reason == "" {
			t.Errorf("rule %s: %s without a reason", e.Rule, e.Mode)
		}
	}
}

func TestDifferentialFragment(t *testing.T) {
	n := 20_000
	if longTests() {
		n = 300_000
	}
	if testing.Short() {
		n = 2_000
	}
	p, err := policy.Load(context.Background(), fragmentBundle)
	if err != nil {
		t.Fatal(err)
	}
	var errs atomic.Int64
	fired := sync.Map{}
	var failures atomic.Int64
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := range 2 {
		wg.Go(func() {
			g := &fragmentGen{r: rand.New(rand.NewPCG(uint64(w), 99))}
			ctx := context.Background()
			for next.Add(1) <= int64(n) && failures.Load() < 10 {
				in := g.input()
				got, gotErr := p.Decide(ctx, in)
				want, wantErr := p.DecideOPA(ctx, in)
				if msg := differ(&got, gotErr, &want, wantErr); msg != "" {
					if failures.Add(1) <= 10 {
						b, _ := json.Marshal(in)
						t.Errorf("%s\ninput: %s", msg, b)
					}
					continue
				}
				if wantErr != nil {
					errs.Add(1)
				}
				for _, h := range want.Hits {
					c, _ := fired.LoadOrStore(h.Rule, new(atomic.Int64))
					c.(*atomic.Int64).Add(1)
				}
			}
		})
	}
	wg.Wait()
	var summary []string
	for _, e := range p.Evaluation() {
		c, ok := fired.Load(e.Rule)
		if !ok {
			t.Errorf("rule %s never fired in %d random inputs: the generator no longer reaches it", e.Rule, n)
			continue
		}
		summary = append(summary, fmt.Sprintf("%s=%d", e.Rule, c.(*atomic.Int64).Load()))
	}
	if errs.Load() == 0 {
		t.Errorf("no input made OPA fail (conflicting definitions): the generator no longer reaches them")
	}
	slices.Sort(summary)
	t.Logf("%d random inputs decided the same both ways, %d failing both ways; fired: %v", n, errs.Load(), summary)
}

type fragmentGen struct{ r *rand.Rand }

func (g *fragmentGen) pick(xs ...any) any { return xs[g.r.IntN(len(xs))] }

func (g *fragmentGen) num() any {
	return g.pick(0.0, 1.0, 1.5, 11.0, 25.0, 50.0, 60.5, 99.0, 100.0, 101.0, 121.0, 600.0, 999.0, 1000.0, 16000.0, -5.0, -0.5,
		json.Number("1"), json.Number("100.0"), json.Number("1e3"), json.Number("123456789012345678901234567890"),
		"100", "abc", true, nil, []any{1.0}, map[string]any{})
}

func (g *fragmentGen) input() *policy.Input {
	rec := map[string]any{}
	set := func(k string, v func() any) {
		if g.r.IntN(10) > 0 {
			rec[k] = v()
		}
	}
	set("id", func() any { return g.pick("x1", "x2", "x3", "x4", 7.0) })
	set("type", func() any {
		return g.pick("payment", "payment", "refund", "conflict", "objects", "never", "other", 1.0)
	})
	set("amount", g.num)
	set("n", func() any { return g.pick(0.0, 1.0, 2.0, 3.0, -1.0, -3.0, 1.5, "1", nil) })
	set("flag", func() any { return g.pick(true, false, "true", nil, 1.0) })
	set("currency", func() any { return g.pick("EUR", "USD", "JPY", "XXX", 3.0) })
	set("amount_str", func() any { return g.pick("12", "0", "abc", "1e2", "-4", 12.0) })
	set("pair", func() any { return g.pick("ab,xy", "ab,yz", "AB,xy", "a,b,c", "single", 5.0) })
	set("ip", func() any {
		return g.pick("10.1.2.3", "192.168.1.9", "192.168.2.9", "8.8.8.8", "not-ip", "10.0.0.0/16", 4.0)
	})
	set("tags", func() any {
		var tags []any
		for range g.r.IntN(4) {
			tags = append(tags, g.pick("vip", "new", "bad1", "bad2", "ok", 1.0))
		}
		return tags
	})
	set("items", func() any {
		var items []any
		for range g.r.IntN(4) {
			it := map[string]any{}
			if g.r.IntN(8) > 0 {
				it["name"] = g.pick("a", "b", "c", "a")
			}
			if g.r.IntN(8) > 0 {
				it["price"] = g.pick(5.0, 9.5, 60.0, 150.0, 200.0, "300", nil)
			}
			items = append(items, it)
		}
		if g.r.IntN(20) == 0 {
			return "not a list"
		}
		return items
	})
	in := &policy.Input{Record: rec, Context: map[string]any{"env": g.pick("test", "prod")}}
	if g.r.IntN(2) == 0 {
		in.Scores = map[string]float64{"s": g.r.Float64()}
	}
	return in
}
