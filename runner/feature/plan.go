package feature

import (
	"cmp"
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/vigil-risk/vigil/runner/record"
)

// plan is Specs compiled for the engine: the features grouped by entity
// kind, and within a kind by series. It is immutable; Reconfigure swaps in a
// new one.
type plan struct {
	specs    *Specs
	names    []string // output index → feature name (spec order)
	defaults []any    // output index → boxed default, nil for none
	kinds    []*kindPlan
	ratios   []ratioPlan // operands before the ratios that use them
	series   map[uint64]*seriesPlan

	maxSeries    int   // the most series of one kind, for scratch sizing
	dedupHorizon int64 // how long a record id is remembered, ns
}

// kindPlan is one entity kind: the fields that make up its key.
type kindPlan struct {
	fields []string
	tag    [4]byte // key prefix: keeps the keys of kinds apart in one store
	series []*seriesPlan
}

// seriesPlan is one series: the contributions of the records that pass
// filter, kept per entity of the kind, read by one or more features.
type seriesPlan struct {
	id        uint64 // stable hash of the definition: state is kept across reloads by it
	kind      seriesKind
	filter    Filter
	field     string
	at        string
	res       int64
	window    int64 // first_seen: the gap after which the entity is new again
	lateness  int64
	retention int64 // the longest window+delay of its readers, plus lateness
	readers   []reader

	maxBuckets     int
	distinctExact  int
	noDistinctView bool // tests: merge on every read, as before the views
}

// reader is one feature reading a series over (t−delay−window, t−delay].
type reader struct {
	agg           Aggregate
	window, delay int64
	out           int
	// Readers of one window sit next to each other and share one pass over
	// it: the first of them has first set, and need says what the pass
	// must fold for all of them.
	first bool
	need  needs
}

// needs are the parts of a stats summary that readers use.
type needs uint8

const (
	needSum      needs = 1 << iota // sum, avg, stddev
	needSquares                    // stddev
	needExtremes                   // min, max
)

func needsOf(a Aggregate) needs {
	switch a {
	case Sum, Avg:
		return needSum
	case Stddev:
		return needSum | needSquares
	case Min, Max:
		return needExtremes
	}
	return 0
}

// bounds is the reader's window at t, (lo, hi], never reaching back to cut;
// ok is false when it is empty.
func (r *reader) bounds(t, cut int64) (lo, hi int64, ok bool) {
	hi = t - r.delay
	lo = max(hi-r.window, cut)
	return lo, hi, lo < hi
}

func (k *kindPlan) seriesByID(id uint64) *seriesPlan {
	for _, sp := range k.series {
		if sp.id == id {
			return sp
		}
	}
	return nil
}

type ratioPlan struct{ out, num, den int }

// limits are the engine options that shape series state.
type limits struct {
	lateness      time.Duration
	maxBuckets    int
	distinctExact int
	dedupHorizon  time.Duration

	noDistinctView bool // tests: distinct series as before their views
}

func seriesKindOf(a Aggregate) seriesKind {
	switch a {
	case Count:
		return kindCount
	case Sum, Avg, Min, Max, Stddev:
		return kindStats
	case Distinct:
		return kindDistinct
	case Last:
		return kindLast
	case FirstSeenAge:
		return kindFirstSeen
	}
	return 0
}

// seriesDef renders what identifies a series; its hash is the series id.
// Counts share the stats series of the same entity, filter, at and
// resolution when there is one (see compile), so their definition has no
// field.
func seriesDef(k seriesKind, f *Feature) string {
	var b strings.Builder
	b.WriteString("v1|" + k.String())
	b.WriteString("|entity=" + strings.Join(f.Entity, ","))
	b.WriteString("|filter=" + f.Filter.canonical())
	b.WriteString("|at=" + f.At)
	b.WriteString("|res=" + strconv.FormatInt(int64(f.Resolution), 10))
	switch k {
	case kindStats, kindDistinct, kindLast:
		b.WriteString("|field=" + f.Field)
	case kindFirstSeen:
		b.WriteString("|window=" + strconv.FormatInt(int64(f.Window), 10))
	}
	return b.String()
}

// compile turns specs into a plan. Features sharing entity, filter, at,
// resolution and field share a series; a count joins the stats series of
// its entity, filter, at and resolution when there is one (the one of the
// first field by name), else gets a count series.
func compile(s *Specs, lim limits) *plan {
	p := &plan{
		specs:    s,
		names:    make([]string, len(s.Features)),
		defaults: make([]any, len(s.Features)),
		series:   map[uint64]*seriesPlan{},
	}
	kinds := map[string]*kindPlan{}
	maxLateness := int64(lim.lateness)
	type countLater struct {
		f   *Feature
		out int
	}
	var counts []countLater
	add := func(f *Feature, k seriesKind, def string, out int) {
		id := xxhash.Sum64String(def)
		kindKey := strings.Join(f.Entity, "\x00")
		kp := kinds[kindKey]
		if kp == nil {
			kp = &kindPlan{fields: f.Entity}
			binary.BigEndian.PutUint32(kp.tag[:], uint32(xxhash.Sum64String("entity|"+strings.Join(f.Entity, ","))))
			kinds[kindKey] = kp
			p.kinds = append(p.kinds, kp)
		}
		sp := p.series[id]
		if sp == nil {
			sp = &seriesPlan{
				id: id, kind: k, filter: f.Filter, field: f.Field, at: f.At, res: int64(f.Resolution),
				maxBuckets: lim.maxBuckets, distinctExact: lim.distinctExact, noDistinctView: lim.noDistinctView,
			}
			if k == kindFirstSeen {
				sp.window = int64(f.Window)
			}
			p.series[id] = sp
			kp.series = append(kp.series, sp)
		}
		lateness := int64(lim.lateness)
		if f.Lateness != nil {
			lateness = int64(*f.Lateness)
		}
		sp.lateness = max(sp.lateness, lateness)
		maxLateness = max(maxLateness, lateness)
		sp.readers = append(sp.readers, reader{agg: f.Aggregate, window: int64(f.Window), delay: int64(f.Delay), out: out})
	}
	for i := range s.Features {
		f := &s.Features[i]
		p.names[i] = f.Name
		p.defaults[i] = f.Default
		switch f.Aggregate {
		case Ratio:
		case Count:
			counts = append(counts, countLater{f, i})
		default:
			k := seriesKindOf(f.Aggregate)
			add(f, k, seriesDef(k, f), i)
		}
	}
	for _, c := range counts {
		def := seriesDef(kindCount, c.f)
		k := kindCount
		var best string
		for _, sp := range p.series {
			if sp.kind != kindStats {
				continue
			}
			g := *c.f
			g.Field = sp.field
			if d := seriesDef(kindStats, &g); xxhash.Sum64String(d) == sp.id && (best == "" || g.Field < best) {
				def, k, best = d, kindStats, g.Field
			}
		}
		f := *c.f
		f.Field = best
		add(&f, k, def, c.out)
	}
	for _, sp := range p.series {
		var reach int64
		for _, r := range sp.readers {
			reach = max(reach, r.window+r.delay)
		}
		sp.retention = reach + sp.lateness
		slices.SortStableFunc(sp.readers, func(a, b reader) int {
			return cmp.Or(cmp.Compare(a.delay, b.delay), cmp.Compare(a.window, b.window))
		})
		lead := 0
		for i := range sp.readers {
			r := &sp.readers[i]
			if i == 0 || r.window != sp.readers[lead].window || r.delay != sp.readers[lead].delay {
				lead = i
				r.first = true
			}
			sp.readers[lead].need |= needsOf(r.agg)
		}
	}
	for _, kp := range p.kinds {
		p.maxSeries = max(p.maxSeries, len(kp.series))
	}
	p.ratios = ratioOrder(s)
	p.dedupHorizon = maxLateness
	if lim.dedupHorizon > 0 {
		p.dedupHorizon = int64(lim.dedupHorizon)
	}
	return p
}

// ratioOrder lists the ratios so that a ratio of ratios comes after its
// operands (ParseSpecs has refused cycles).
func ratioOrder(s *Specs) []ratioPlan {
	var out []ratioPlan
	done := make([]bool, len(s.Features))
	var visit func(i int)
	visit = func(i int) {
		f := &s.Features[i]
		if done[i] || f.Aggregate != Ratio {
			return
		}
		done[i] = true
		num, den := s.byName[f.Numerator], s.byName[f.Denominator]
		visit(num)
		visit(den)
		out = append(out, ratioPlan{out: i, num: num, den: den})
	}
	for i := range s.Features {
		visit(i)
	}
	return out
}

// key writes the entity key of the record into buf: the kind's tag, then
// the entity's field values (length-prefixed for a composite entity). ok is
// false when a field is missing, empty or not a string, number or boolean:
// the record then has none of the kind's features.
func (k *kindPlan) key(buf []byte, fields map[string]any) ([]byte, bool) {
	buf = append(buf[:0], k.tag[:]...)
	for _, name := range k.fields {
		mark := len(buf)
		switch x := fields[name].(type) {
		case string:
			if x == "" {
				return buf, false
			}
			buf = append(buf, x...)
		case float64:
			buf = strconv.AppendFloat(buf, x, 'g', -1, 64)
		case bool:
			buf = strconv.AppendBool(buf, x)
		default:
			return buf, false
		}
		if len(k.fields) > 1 {
			n := len(buf) - mark
			var lenBuf [binary.MaxVarintLen64]byte
			w := binary.PutUvarint(lenBuf[:], uint64(n))
			buf = append(buf, lenBuf[:w]...)
			copy(buf[mark+w:], buf[mark:mark+n])
			copy(buf[mark:], lenBuf[:w])
		}
	}
	return buf, true
}

// contribution works out what the record adds to the series; false when the
// record does not pass the filter.
func (sp *seriesPlan) contribution(fields map[string]any, t int64, c *contribution) bool {
	if !sp.filter.Match(fields) {
		return false
	}
	c.at = t
	if sp.at != "" {
		if v, ok := fields[sp.at]; ok && v != nil {
			if at, err := record.ParseTime(v); err == nil {
				if ns, ok := eventTime(at); ok {
					c.at = ns
				}
			}
		}
	}
	switch sp.kind {
	case kindStats:
		c.num, c.hasNum = numberOf(fields[sp.field])
	case kindDistinct:
		c.hash, c.hasVal = hashOf(fields[sp.field])
	case kindLast:
		// A record without the field has no value to be the last.
		c.val, c.hasVal = scalarOf(fields[sp.field])
		return c.hasVal
	}
	return true
}

// eventTime is t in unix nanoseconds, which the engine works in. Event
// times are kept to the years 1700 to 2199, well inside the range of int64
// nanoseconds, so that adding a retention never overflows.
func eventTime(t time.Time) (int64, bool) {
	if y := t.Year(); y < 1700 || y >= 2200 {
		return 0, false
	}
	return t.UnixNano(), true
}

// before is t − d, saturating at the smallest time.
func before(t, d int64) int64 {
	if t < minTime+d {
		return minTime
	}
	return t - d
}
