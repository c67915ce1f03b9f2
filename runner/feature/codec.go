package feature

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The binary form of an entity, used by snapshots (and by any store that
// keeps entities outside the process):
//
//	key string · expires varint · updated varint · slots uvarint ·
//	per slot: series id u64 · kind byte · body length uvarint · body
//
// Strings are uvarint length + bytes; u64 and f64 are 8 bytes little
// endian, floats by their bits so that a restore is bit-identical.

type encoder struct{ b []byte }

func (w *encoder) uvarint(x uint64) { w.b = binary.AppendUvarint(w.b, x) }
func (w *encoder) varint(x int64)   { w.b = binary.AppendVarint(w.b, x) }
func (w *encoder) u64(x uint64)     { w.b = binary.LittleEndian.AppendUint64(w.b, x) }
func (w *encoder) f64(x float64)    { w.u64(math.Float64bits(x)) }
func (w *encoder) byte(c byte)      { w.b = append(w.b, c) }
func (w *encoder) str(s string) {
	w.uvarint(uint64(len(s)))
	w.b = append(w.b, s...)
}

// buckets writes times as differences, which keeps them to a few bytes.
func (w *encoder) buckets(bs []bucket) {
	w.uvarint(uint64(len(bs)))
	var prev int64
	for _, b := range bs {
		w.varint(b.first - prev)
		w.uvarint(uint64(b.last - b.first))
		w.uvarint(uint64(b.n))
		prev = b.last
	}
}

var errCorrupt = errors.New("corrupt feature state")

type decoder struct {
	b   []byte
	err error
}

func (r *decoder) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", errCorrupt, fmt.Sprintf(format, args...))
	}
}

func (r *decoder) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad or truncated number")
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *decoder) varint() int64 {
	if r.err != nil {
		return 0
	}
	x, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad or truncated number")
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *decoder) u64() uint64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 8 {
		r.fail("truncated")
		return 0
	}
	x := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return x
}

func (r *decoder) f64() float64 { return math.Float64frombits(r.u64()) }

func (r *decoder) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 1 {
		r.fail("truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// take returns the next n bytes.
func (r *decoder) take(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("length %d runs past the end", n)
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

func (r *decoder) str() string { return string(r.take(r.uvarint())) }

// count reads a number of items each at least minSize bytes long, refusing
// one the remaining bytes cannot hold (so corrupt input cannot make us
// allocate wildly).
func (r *decoder) count(minSize int) int {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)/minSize) {
		r.fail("count %d runs past the end", n)
		return 0
	}
	return int(n)
}

func (r *decoder) buckets() []bucket {
	n := r.count(3)
	if n == 0 {
		return nil
	}
	bs := make([]bucket, n)
	var prev int64
	for i := range bs {
		b := &bs[i]
		b.first = prev + r.varint()
		b.last = b.first + int64(r.uvarint())
		b.n = int64(r.uvarint())
		if r.err == nil && (b.last < b.first || b.n < 1 || (i > 0 && b.first < prev)) {
			r.fail("buckets out of order")
		}
		prev = b.last
	}
	return bs
}

// MarshalBinary encodes the entity (see codec.go for the layout).
func (e *Entity) MarshalBinary() ([]byte, error) {
	var w encoder
	e.encode(&w, nil)
	return w.b, nil
}

// UnmarshalBinary decodes an entity written by MarshalBinary.
func (e *Entity) UnmarshalBinary(data []byte) error {
	r := &decoder{b: data}
	d, err := decodeEntity(r)
	if err != nil {
		return err
	}
	if len(r.b) > 0 {
		return fmt.Errorf("%w: %d bytes after the entity", errCorrupt, len(r.b))
	}
	e.key, e.expires, e.updated, e.slots = d.key, d.expires, d.updated, d.slots
	return nil
}

// encode appends the entity, leaving out the series keep refuses (nil:
// keep all).
func (e *Entity) encode(w *encoder, keep func(id uint64) bool) {
	w.str(e.key)
	w.varint(e.expires)
	w.varint(e.updated)
	n := 0
	for _, sl := range e.slots {
		if keep == nil || keep(sl.id) {
			n++
		}
	}
	w.uvarint(uint64(n))
	var body encoder
	for _, sl := range e.slots {
		if keep != nil && !keep(sl.id) {
			continue
		}
		w.u64(sl.id)
		w.byte(byte(kindOf(sl.s)))
		body.b = body.b[:0]
		sl.s.encode(&body)
		w.uvarint(uint64(len(body.b)))
		w.b = append(w.b, body.b...)
	}
}

func decodeEntity(r *decoder) (*Entity, error) {
	e := &Entity{key: r.str(), expires: r.varint(), updated: r.varint()}
	n := r.count(10)
	e.slots = make([]slot, 0, n)
	for range n {
		id := r.u64()
		k := seriesKind(r.byte())
		body := &decoder{b: r.take(r.uvarint())}
		if r.err != nil {
			break
		}
		s := newSeries(k)
		if s == nil {
			return nil, fmt.Errorf("%w: entity %q: unknown series kind %d", errCorrupt, e.key, k)
		}
		if err := s.decode(body); err != nil {
			return nil, fmt.Errorf("entity %q: %w", e.key, err)
		}
		if len(body.b) > 0 {
			return nil, fmt.Errorf("%w: entity %q: %d bytes after a %s series", errCorrupt, e.key, len(body.b), k)
		}
		e.slots = append(e.slots, slot{id: id, s: s})
	}
	if r.err != nil {
		return nil, r.err
	}
	return e, nil
}

func kindOf(s series) seriesKind {
	switch s.(type) {
	case *countSeries:
		return kindCount
	case *statsSeries:
		return kindStats
	case *distinctSeries:
		return kindDistinct
	case *lastSeries:
		return kindLast
	case *firstSeenSeries:
		return kindFirstSeen
	}
	return 0
}

func (s *countSeries) encode(w *encoder) { w.buckets(s.b) }

func (s *countSeries) decode(r *decoder) error {
	s.b = r.buckets()
	return r.err
}

func (s *firstSeenSeries) encode(w *encoder) { w.buckets(s.ep) }

func (s *firstSeenSeries) decode(r *decoder) error {
	s.ep = r.buckets()
	return r.err
}

func (s *statsSeries) encode(w *encoder) {
	w.buckets(s.b)
	for _, m := range s.m {
		w.uvarint(uint64(m.nv))
		if m.nv > 0 {
			w.f64(m.sum.hi)
			w.f64(m.sum.lo)
			w.f64(m.sq.hi)
			w.f64(m.sq.lo)
			w.f64(m.min)
			w.f64(m.max)
		}
	}
}

func (s *statsSeries) decode(r *decoder) error {
	s.b = r.buckets()
	s.m = make([]moments, len(s.b))
	for i := range s.m {
		m := &s.m[i]
		m.nv = int64(r.uvarint())
		if m.nv > 0 {
			m.sum = dd{r.f64(), r.f64()}
			m.sq = dd{r.f64(), r.f64()}
			m.min, m.max = r.f64(), r.f64()
		}
	}
	return r.err
}

func (s *distinctSeries) encode(w *encoder) {
	w.buckets(s.b)
	if s.sketch {
		w.byte(1)
	} else {
		w.byte(0)
	}
	w.uvarint(uint64(s.nvals))
	for _, set := range s.sets {
		if set.reg != nil {
			w.byte(1)
			w.b = append(w.b, set.reg[:]...)
			continue
		}
		w.byte(0)
		w.uvarint(uint64(len(set.h)))
		for _, h := range set.h {
			w.u64(h)
		}
	}
}

func (s *distinctSeries) decode(r *decoder) error {
	s.b = r.buckets()
	s.sketch = r.byte() == 1
	s.nvals = int32(r.uvarint())
	s.view = nil
	s.sets = make([]valueSet, len(s.b))
	for i := range s.sets {
		set := &s.sets[i]
		if r.byte() == 1 {
			set.reg = new(hllRegs)
			copy(set.reg[:], r.take(hllM))
			continue
		}
		n := r.count(8)
		set.h = make([]uint64, n)
		for j := range set.h {
			set.h[j] = r.u64()
		}
	}
	return r.err
}

// Tags of last values.
const (
	tagString = 's'
	tagNumber = 'n'
	tagTrue   = 't'
	tagFalse  = 'f'
)

func (s *lastSeries) encode(w *encoder) {
	w.buckets(s.b)
	for _, v := range s.vals {
		switch x := v.(type) {
		case string:
			w.byte(tagString)
			w.str(x)
		case float64:
			w.byte(tagNumber)
			w.f64(x)
		case bool:
			if x {
				w.byte(tagTrue)
			} else {
				w.byte(tagFalse)
			}
		}
	}
}

func (s *lastSeries) decode(r *decoder) error {
	s.b = r.buckets()
	s.vals = make([]any, len(s.b))
	for i := range s.vals {
		switch tag := r.byte(); tag {
		case tagString:
			s.vals[i] = r.str()
		case tagNumber:
			s.vals[i] = r.f64()
		case tagTrue:
			s.vals[i] = true
		case tagFalse:
			s.vals[i] = false
		default:
			r.fail("last value with tag %d", tag)
		}
	}
	return r.err
}
