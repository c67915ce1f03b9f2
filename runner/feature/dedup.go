package feature

import (
	"sync"

	"github.com/cespare/xxhash/v2"
)

// dedupSet remembers the ids of the records applied within the dedup
// horizon, in shards locked by id hash. Each shard keeps its ids in arrival
// order too, to forget the oldest first: by event time once they fall out
// of the horizon, or when the shard is full. An id counts as seen only
// while its time is inside the horizon, however late it is forgotten, so
// the answer never depends on when the forgetting happens.
type dedupSet struct {
	shards   [dedupShards]dedupShard
	shardCap int
}

const dedupShards = 16

type dedupShard struct {
	mu    sync.Mutex
	times map[string]int64 // id → event time of the record (unix ns)
	queue []dedupEntry     // arrival order; queue[head:] is live
	head  int
	_     [8]byte
}

type dedupEntry struct {
	id string
	t  int64
}

func newDedupSet(capacity int) *dedupSet {
	d := &dedupSet{shardCap: max(1, capacity/dedupShards)}
	for i := range d.shards {
		d.shards[i].times = map[string]int64{}
	}
	return d
}

// seen reports whether id was applied within the horizon of wm; when not, it
// remembers id at time t.
func (d *dedupSet) seen(id string, t, wm, horizon int64) bool {
	sh := &d.shards[xxhash.Sum64String(id)%dedupShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	from := before(wm, horizon)
	if at, ok := sh.times[id]; ok && at > from {
		return true
	}
	sh.forget(from, d.shardCap-1)
	sh.times[id] = t
	sh.queue = append(sh.queue, dedupEntry{id, t})
	return false
}

// forget drops the oldest entries while they are at or before from or the
// shard holds more than keep.
func (sh *dedupShard) forget(from int64, keep int) {
	for sh.head < len(sh.queue) {
		e := sh.queue[sh.head]
		if e.t > from && len(sh.queue)-sh.head <= keep {
			break
		}
		if at, ok := sh.times[e.id]; ok && at == e.t {
			delete(sh.times, e.id)
		}
		sh.queue[sh.head] = dedupEntry{}
		sh.head++
	}
	if sh.head > 1024 && sh.head*2 > len(sh.queue) {
		n := copy(sh.queue, sh.queue[sh.head:])
		clear(sh.queue[n:])
		sh.queue = sh.queue[:n]
		sh.head = 0
	}
}

// each calls fn for every remembered id in arrival order, shard by shard.
func (d *dedupSet) each(fn func(id string, t int64)) {
	for i := range d.shards {
		sh := &d.shards[i]
		sh.mu.Lock()
		for _, e := range sh.queue[sh.head:] {
			if at, ok := sh.times[e.id]; ok && at == e.t {
				fn(e.id, e.t)
			}
		}
		sh.mu.Unlock()
	}
}

// put remembers id at t (restore), after those put before it.
func (d *dedupSet) put(id string, t int64) {
	sh := &d.shards[xxhash.Sum64String(id)%dedupShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.forget(minTime, d.shardCap-1)
	sh.times[id] = t
	sh.queue = append(sh.queue, dedupEntry{id, t})
}

func (d *dedupSet) reset() {
	for i := range d.shards {
		sh := &d.shards[i]
		sh.mu.Lock()
		clear(sh.times)
		sh.queue, sh.head = nil, 0
		sh.mu.Unlock()
	}
}
