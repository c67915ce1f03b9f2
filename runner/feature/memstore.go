package feature

import (
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// MemoryOptions configure a MemoryStore.
type MemoryOptions struct {
	// Shards is the number of independently locked shards, rounded up to a
	// power of two; 0 means 64. Updates of entities in different shards run
	// in parallel.
	Shards int
	// MaxEntities caps the entities held (0: no cap). Each shard holds at
	// most MaxEntities/Shards (at least one) and evicts its least recently
	// updated entity, by a sample of evictionSample, to make room; the total
	// never exceeds the cap.
	MaxEntities int
}

// MemoryStore keeps entities in memory, in shards locked by key hash. A
// shard keeps its entities in a map and a dense slice: the slice is what
// the incremental sweep walks, eviction samples and Range writes in order,
// and an update of an existing entity touches nothing but the entity.
//
// Expired entities are swept incrementally: each new entity has the next
// two of its shard looked at. Whether an expired entity has been swept yet
// never changes a feature value: the engine reads nothing past an entity's
// Expires. Eviction picks, among entities sampled at positions drawn from
// the new key's hash, the one updated longest ago (in event time): the same
// records in the same order evict the same entities, after a restore too.
type MemoryStore struct {
	shards   []memShard
	mask     uint64
	shardCap int // 0: none
	evicted  atomic.Uint64
	expired  atomic.Uint64
	count    atomic.Int64
}

type memShard struct {
	mu     sync.Mutex
	m      map[string]*Entity
	all    []*Entity // every entity; Entity.pos is its index
	cursor int       // next position the incremental sweep looks at
	_      [16]byte  // keep shards on separate cache lines
}

const (
	sweepStep        = 2 // entities looked at per new entity
	evictionSample   = 5
	evictionPosShift = 12 // bits of the key hash per sampled position
)

// NewMemoryStore returns an empty store.
func NewMemoryStore(o MemoryOptions) *MemoryStore {
	n := 64
	if o.Shards > 0 {
		n = 1
		for n < o.Shards {
			n <<= 1
		}
	}
	s := &MemoryStore{shards: make([]memShard, n), mask: uint64(n - 1)}
	if o.MaxEntities > 0 {
		s.shardCap = max(1, o.MaxEntities/n)
	}
	for i := range s.shards {
		s.shards[i].m = map[string]*Entity{}
	}
	return s
}

func (s *MemoryStore) Update(key []byte, now int64, fn func(*Entity)) {
	h := xxhash.Sum64(key)
	sh := &s.shards[h&s.mask]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.m[string(key)]
	if e == nil {
		// Sweeping as entities are created keeps pace with them: the
		// store holds little beyond the live entities.
		sh.sweep(s, now, sweepStep)
		e = NewEntity(string(key))
		s.insert(sh, e, h)
	}
	e.updated = now
	fn(e)
	if e.Empty() {
		s.remove(sh, e)
	}
}

func (s *MemoryStore) View(key []byte, fn func(*Entity)) bool {
	sh := &s.shards[xxhash.Sum64(key)&s.mask]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.m[string(key)]
	if e == nil {
		return false
	}
	fn(e)
	return true
}

// sweep looks at the next n entities and deletes those expired at now.
func (sh *memShard) sweep(s *MemoryStore, now int64, n int) {
	for range n {
		if len(sh.all) == 0 {
			return
		}
		if sh.cursor >= len(sh.all) {
			sh.cursor = 0
		}
		if e := sh.all[sh.cursor]; e.expires <= now {
			s.remove(sh, e) // the last entity moves in at cursor: look at it next
			s.expired.Add(1)
		} else {
			sh.cursor++
		}
	}
}

// insert adds e to sh, evicting first when the shard is full. h (the key's
// hash) draws the sample.
func (s *MemoryStore) insert(sh *memShard, e *Entity, h uint64) {
	if old := sh.m[e.key]; old != nil {
		s.remove(sh, old)
	}
	if s.shardCap > 0 && len(sh.all) >= s.shardCap {
		victim := sh.all[0]
		for i := range evictionSample {
			c := sh.all[(h>>(evictionPosShift*i))%uint64(len(sh.all))]
			if c.updated < victim.updated {
				victim = c
			}
		}
		s.remove(sh, victim)
		s.evicted.Add(1)
	}
	e.pos = int32(len(sh.all))
	sh.all = append(sh.all, e)
	sh.m[e.key] = e
	s.count.Add(1)
}

func (s *MemoryStore) remove(sh *memShard, e *Entity) {
	last := len(sh.all) - 1
	moved := sh.all[last]
	sh.all[e.pos] = moved
	moved.pos = e.pos
	sh.all[last] = nil
	sh.all = sh.all[:last]
	delete(sh.m, e.key)
	s.count.Add(-1)
}

func (s *MemoryStore) Sweep(now int64) int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for j := 0; j < len(sh.all); {
			if e := sh.all[j]; e.expires <= now {
				s.remove(sh, e)
				n++
			} else {
				j++
			}
		}
		sh.mu.Unlock()
	}
	s.expired.Add(uint64(n))
	return n
}

func (s *MemoryStore) Range(fn func(*Entity) error) error {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for _, e := range sh.all {
			if err := fn(e); err != nil {
				sh.mu.Unlock()
				return err
			}
		}
		sh.mu.Unlock()
	}
	return nil
}

func (s *MemoryStore) Put(e *Entity) {
	h := xxhash.Sum64String(e.key)
	sh := &s.shards[h&s.mask]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s.insert(sh, e, h)
}

func (s *MemoryStore) Reset() {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		s.count.Add(-int64(len(sh.m)))
		clear(sh.m)
		clear(sh.all)
		sh.all, sh.cursor = sh.all[:0], 0
		sh.mu.Unlock()
	}
}

// Len is the number of entities held.
func (s *MemoryStore) Len() int { return int(s.count.Load()) }

func (s *MemoryStore) Stats() StoreStats {
	return StoreStats{Entities: s.Len(), Evicted: s.evicted.Load(), Expired: s.expired.Load()}
}
