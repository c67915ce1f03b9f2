package feature

import (
	"bytes"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/record"
)

// halves replays recs through one engine, and through a second that is
// snapshotted to a file halfway, and a third restored from that file for
// the rest; the two runs must give exactly the same features and outcomes.
func halves(t *testing.T, specs *Specs, o Options, store func() Store, recs []record.Record) *Engine {
	t.Helper()
	type result struct {
		got map[string]any
		out Outcome
	}
	whole := mustEngine(t, specs, store(), o)
	var want []result
	for _, r := range recs {
		got, out := whole.Apply(r)
		want = append(want, result{got, out})
	}
	path := filepath.Join(t.TempDir(), "features.snap")
	first := mustEngine(t, specs, store(), o)
	half := len(recs) / 2
	for _, r := range recs[:half] {
		first.Apply(r)
	}
	if err := first.SnapshotFile(path); err != nil {
		t.Fatal(err)
	}
	second := mustEngine(t, specs, store(), o)
	if ok, err := second.RestoreFile(path); !ok || err != nil {
		t.Fatalf("RestoreFile = %v, %v", ok, err)
	}
	if second.Watermark() != first.Watermark() || second.Stats().Store.Entities != first.Stats().Store.Entities {
		t.Fatalf("restored %+v, snapshotted %+v", second.Stats(), first.Stats())
	}
	for i, r := range recs[half:] {
		got, out := second.Apply(r)
		w := want[half+i]
		if !maps.Equal(got, w.got) || out != w.out {
			t.Fatalf("record %d (%s) after restore:\ngot  %v %+v\nwant %v %+v", half+i, r.ID, got, out, w.got, w.out)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("snapshot dir holds %d files, want just the snapshot", len(entries))
	}
	return whole
}

func TestSnapshotHalvesFDH(t *testing.T) {
	recs, _ := readFDH(t, "../../fixtures/fdh/transactions-sample.csv")
	specs := mustSpecs(t, fdhSpecs(), shippedSchema(t))
	halves(t, specs, Options{}, func() Store { return nil }, recs)
}

// The synthetic stream has labels, distinct and first-seen features,
// duplicates and late records; small caps make buckets merge, distinct
// sets turn to sketches and entities get evicted, so all of that must
// survive a restore too.
func TestSnapshotHalvesSynthetic(t *testing.T) {
	specs := mustSpecs(t, referenceSpecs, shippedSchema(t))
	const lateness = 10 * time.Minute
	s := &stream{rnd: rand.New(rand.NewPCG(9, 9)), norm: newNormalizer(t), now: t0, lateness: lateness}
	var recs []record.Record
	for range 3000 {
		r, _ := s.next()
		recs = append(recs, r)
	}
	o := Options{Lateness: lateness, MaxBuckets: 8, DistinctExact: 4}
	whole := halves(t, specs, o, func() Store { return NewMemoryStore(MemoryOptions{Shards: 4, MaxEntities: 24}) }, recs)
	sketches := 0
	whole.store.Range(func(ent *Entity) error {
		for _, sl := range ent.slots {
			if d, ok := sl.s.(*distinctSeries); ok && d.sketch {
				sketches++
			}
		}
		return nil
	})
	if st := whole.Stats(); st.Store.Evicted == 0 || st.Duplicates == 0 || st.Late == 0 || sketches == 0 {
		t.Fatalf("the stream should evict, repeat, come late and outgrow exact distinct: %+v, %d sketches", st, sketches)
	}
}

func TestRestoreOtherSpecs(t *testing.T) {
	schema := shippedSchema(t)
	a := mustEngine(t, mustSpecs(t, `version: 1
features:
  - {name: card_count_1h, entity: card_id, aggregate: count, window: 1h}
  - {name: card_ip_distinct_1h, entity: card_id, aggregate: distinct, field: ip, window: 1h}
  - {name: customer_count_1h, entity: customer_id, aggregate: count, window: 1h}
`, schema), nil, Options{})
	n := newNormalizer(t)
	for i := range 5 {
		a.Apply(n.rec(pay(fmt.Sprint(i), time.Duration(i)*time.Second, "card_id", "c", "customer_id", "u", "ip", fmt.Sprint(i))))
	}
	var snap bytes.Buffer
	if err := a.Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	b := mustEngine(t, mustSpecs(t, `version: 1
features:
  - {name: card_count_1h, entity: card_id, aggregate: count, window: 1h}
  - {name: card_count_10m, entity: card_id, aggregate: count, window: 10m}
`, schema), nil, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := b.Restore(bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatal(err)
	}
	got := b.Read(n.rec(pay("r", 10*time.Second, "card_id", "c", "customer_id", "u")))
	if fmt.Sprint(got) != "map[card_count_10m:5 card_count_1h:5]" {
		t.Fatalf("after restore: %v", got)
	}
	if st := b.Stats().Store; st.Entities != 1 {
		t.Fatalf("%d entities, want the card only (the customer's series is gone)", st.Entities)
	}
	for _, want := range []string{"feature state restored", "entities=1", "series_states_dropped=2", "series_dropped=2", "entities_dropped=1", "same_specs=false"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log %q lacks %q", logs.String(), want)
		}
	}
}

func TestRestoreRefusesDamage(t *testing.T) {
	specs := mustSpecs(t, "version: 1\nfeatures:\n  - {name: card_count_1h, entity: card_id, aggregate: count, window: 1h}\n", shippedSchema(t))
	e := mustEngine(t, specs, nil, Options{})
	n := newNormalizer(t)
	e.Apply(n.rec(pay("a", 0, "card_id", "c")))
	var snap bytes.Buffer
	if err := e.Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	good := snap.Bytes()
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	tests := []struct {
		name string
		data []byte
		msg  string
	}{
		{"empty", nil, "not a feature snapshot"},
		{"not a snapshot", []byte("version: 1\nfeatures: []\n"), "not a feature snapshot"},
		{"truncated", good[:len(good)-3], "checksum mismatch"},
		{"flipped bit", flipped, "checksum mismatch"},
	}
	target := mustEngine(t, specs, nil, Options{})
	target.Apply(n.rec(pay("b", time.Minute, "card_id", "d")))
	for _, tt := range tests {
		if err := target.Restore(bytes.NewReader(tt.data)); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.msg)
		}
	}
	if st := target.Stats(); st.Store.Entities != 1 || !st.Watermark.Equal(at(time.Minute)) {
		t.Fatalf("a refused snapshot changed the state: %+v", st)
	}
	ok, err := target.RestoreFile(filepath.Join(t.TempDir(), "none.snap"))
	if ok || err != nil {
		t.Fatalf("RestoreFile of a missing file = %v, %v; want false, nil", ok, err)
	}
}

func TestEntityBinaryRoundTrip(t *testing.T) {
	specs := mustSpecs(t, referenceSpecs, shippedSchema(t))
	e := mustEngine(t, specs, nil, Options{DistinctExact: 2, MaxBuckets: 4})
	s := &stream{rnd: rand.New(rand.NewPCG(1, 1)), norm: newNormalizer(t), now: t0, lateness: 5 * time.Minute}
	for range 500 {
		r, _ := s.next()
		e.Apply(r)
	}
	kinds := map[seriesKind]bool{}
	e.store.Range(func(ent *Entity) error {
		data, _ := ent.MarshalBinary()
		var back Entity
		if err := back.UnmarshalBinary(data); err != nil {
			t.Fatalf("%q: %v", ent.key, err)
		}
		again, _ := back.MarshalBinary()
		if !bytes.Equal(data, again) || back.Key() != ent.Key() || back.Expires() != ent.Expires() || back.Updated() != ent.Updated() {
			t.Fatalf("%q does not round-trip", ent.key)
		}
		for _, sl := range ent.slots {
			kinds[kindOf(sl.s)] = true
		}
		if err := back.UnmarshalBinary(data[:len(data)-1]); err == nil {
			t.Fatalf("%q: a truncated entity decodes", ent.key)
		}
		return nil
	})
	if len(kinds) != 5 {
		t.Fatalf("series kinds seen %v, want all five", kinds)
	}
}
