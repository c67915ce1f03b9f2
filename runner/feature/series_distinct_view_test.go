package feature

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/record"
)

// refDistinctCount is how a distinct feature was read before the view: the
// buckets of the window that are at least half inside it, merged afresh.
func refDistinctCount(s *distinctSeries, r *reader, t, cut int64) float64 {
	lo, hi, ok := r.bounds(t, cut)
	if !ok {
		return 0
	}
	i, j := span(s.b, lo, hi)
	if !s.sketch {
		seen := map[uint64]bool{}
		for k := i; k < j; k++ {
			if s.b[k].inHalf(lo, hi) {
				for _, h := range s.sets[k].h {
					seen[h] = true
				}
			}
		}
		return float64(len(seen))
	}
	var regs hllRegs
	for k := i; k < j; k++ {
		if !s.b[k].inHalf(lo, hi) {
			continue
		}
		if set := &s.sets[k]; set.reg != nil {
			regs.merge(set.reg)
		} else {
			for _, h := range set.h {
				regs.insert(h)
			}
		}
	}
	return math.Round(regs.estimate())
}

// checkDistinctReads recomputes every distinct feature of fields as of t
// by merging the buckets, and compares it with got.
func checkDistinctReads(t *testing.T, e *Engine, fields map[string]any, at int64, got map[string]any, what string) (reads int) {
	t.Helper()
	p := e.plan.Load()
	wm := e.wm.Load()
	for _, k := range p.kinds {
		key, ok := k.key(nil, fields)
		if !ok {
			continue
		}
		var ent *Entity
		e.store.Range(func(x *Entity) error {
			if x.key == string(key) {
				ent = x
			}
			return nil
		})
		for j, sp := range k.series {
			if sp.kind != kindDistinct {
				continue
			}
			var s *distinctSeries
			if ent != nil {
				s, _ = ent.find(sp.id, j).(*distinctSeries)
			}
			for i := range sp.readers {
				r := &sp.readers[i]
				want := 0.0
				if s != nil {
					want = refDistinctCount(s, r, at, before(wm, sp.retention))
				}
				name := p.names[r.out]
				if g, ok := got[name]; !ok || g != want {
					t.Fatalf("%s: %s = %v, merging the buckets gives %v", what, name, g, want)
				}
				reads++
			}
		}
	}
	return reads
}

// The view gives what merging the window's buckets gives, read after read,
// on random streams: in order and late (within and past the lateness),
// duplicates, gaps past the retention, few and many distinct values (exact
// mode, the switch to sketches, sparse and dense sketches), bucket merges
// under small bucket caps, a series read over two windows, a delayed
// window, reads without applying, and a snapshot restored midway.
func TestDistinctViewMatchesMerge(t *testing.T) {
	rounds := 24
	if testing.Short() {
		rounds = 6
	}
	n := newNormalizer(t)
	var reads, sketches int
	for round := range rounds {
		rnd := rand.New(rand.NewPCG(uint64(round), 77))
		res := []string{"1s", "1m", "7m"}[rnd.IntN(3)]
		specs := mustSpecs(t, fmt.Sprintf(`version: 1
features:
  - {name: dev_1h, entity: customer_id, aggregate: distinct, field: device_id, window: 1h, resolution: %[1]s}
  - {name: dev_3h, entity: customer_id, aggregate: distinct, field: device_id, window: 3h, resolution: %[1]s}
  - {name: ip_30m_d5m, entity: customer_id, aggregate: distinct, field: ip, window: 30m, delay: 5m, resolution: %[1]s}
  - {name: card_ip_2h, entity: card_id, aggregate: distinct, field: ip, window: 2h, filter: {type: payment}}
  - {name: card_dev_5m, entity: card_id, aggregate: distinct, field: device_id, window: 5m, resolution: 10s}
`, res), shippedSchema(t))
		o := Options{
			Lateness:      10 * time.Minute,
			MaxBuckets:    []int{4, 9, 32, 128}[rnd.IntN(4)],
			DistinctExact: []int{3, 8, 64}[rnd.IntN(3)],
		}
		e := mustEngine(t, specs, nil, o)
		oo := o
		oo.noDistinctView = true
		old := mustEngine(t, specs, nil, oo) // without views: as before them
		var restored *Engine
		burst := rnd.IntN(3) == 0 // records ms apart: sketch buckets fill past sparseMax
		pool := []int{2, 6, 40, 90, 2000}[rnd.IntN(5)]
		if burst {
			pool = 2000
		}
		clock := time.Duration(0)
		var past []record.Record
		const records = 2500
		for i := range records {
			switch x := rnd.IntN(100); {
			case burst && x < 97:
				clock += time.Duration(rnd.IntN(300)) * time.Millisecond
			case x < 70:
				clock += time.Duration(rnd.IntN(30_000)) * time.Millisecond
			case x < 92:
				clock += time.Duration(rnd.IntN(600)) * time.Second
			case x < 99:
				clock += time.Duration(rnd.IntN(120)) * time.Minute
			default:
				clock += 5 * time.Hour // everything expires
			}
			at := clock
			if rnd.IntN(8) == 0 {
				at -= time.Duration(rnd.IntN(15*60)) * time.Second // late, some past the lateness
			}
			value := func(prefix string) string {
				if rnd.IntN(3) == 0 {
					return fmt.Sprint(prefix, rnd.IntN(3)) // a few usual values
				}
				return fmt.Sprint(prefix, rnd.IntN(pool))
			}
			typ := []string{"payment", "login"}[rnd.IntN(2)]
			rec := n.rec(map[string]any{
				"id": fmt.Sprint("r", i), "ts": t0.Add(at), "type": typ,
				"customer_id": fmt.Sprint("c", rnd.IntN(3)), "card_id": fmt.Sprint("k", rnd.IntN(2)),
				"device_id": value("d"), "ip": value("10.0.0."),
			})
			if len(past) > 0 && rnd.IntN(20) == 0 {
				rec = past[rnd.IntN(len(past))] // a duplicate (or, past the horizon, a replay)
			}
			past = append(past, rec)
			got, _ := e.Apply(rec)
			reads += checkDistinctReads(t, e, rec.Fields, rec.Time.UnixNano(), got, fmt.Sprintf("round %d record %d", round, i))
			gotOld, _ := old.Apply(rec)
			if !reflect.DeepEqual(got, gotOld) {
				t.Fatalf("round %d record %d: %v, without views %v", round, i, got, gotOld)
			}
			if restored != nil {
				if got2, _ := restored.Apply(rec); !reflect.DeepEqual(got, got2) {
					t.Fatalf("round %d record %d: restored engine gives %v, the engine %v", round, i, got2, got)
				}
			}
			if rnd.IntN(10) == 0 { // a read only, at another time
				r := past[rnd.IntN(len(past))]
				got := e.Read(r)
				reads += checkDistinctReads(t, e, r.Fields, r.Time.UnixNano(), got, fmt.Sprintf("round %d read %d", round, i))
			}
			if i == records/2 {
				var buf bytes.Buffer
				if err := e.Snapshot(&buf); err != nil {
					t.Fatal(err)
				}
				restored = mustEngine(t, specs, nil, o)
				if err := restored.Restore(&buf); err != nil {
					t.Fatal(err)
				}
			}
		}
		var a, b bytes.Buffer // the same state: buckets, sets, modes, nvals
		if err := e.Snapshot(&a); err != nil {
			t.Fatal(err)
		}
		if err := old.Snapshot(&b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatalf("round %d: the state differs from the state without views", round)
		}
		e.store.Range(func(ent *Entity) error {
			for _, sl := range ent.slots {
				if s, ok := sl.s.(*distinctSeries); ok && s.sketch {
					sketches++
				}
			}
			return nil
		})
	}
	t.Logf("%d distinct reads checked; %d series in sketch mode at the end", reads, sketches)
	if sketches == 0 {
		t.Error("no series reached sketch mode: the test does not cover it")
	}
}
