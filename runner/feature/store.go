package feature

// Store keeps the entities' feature state. The engine calls it with
// entity keys built in a reused buffer: an implementation must not keep the
// key slice. MemoryStore is the store of one runner; a shared store (Redis)
// fits the same interface by loading the entity under a per-key lock,
// calling fn, and writing it back (see Entity.MarshalBinary).
type Store interface {
	// Update calls fn with the entity under key — a new empty one when
	// there is none — holding the key's lock, and marks it updated at now.
	// An entity fn leaves empty is deleted. now is the engine's watermark
	// (unix ns): a store may delete entities whose Expires is at or before
	// it.
	Update(key []byte, now int64, fn func(*Entity))
	// View calls fn with the entity under key, holding the key's lock, and
	// reports whether there was one. fn must not change the entity.
	View(key []byte, fn func(*Entity)) bool
	// Sweep deletes every entity expired at now and returns how many.
	Sweep(now int64) int
	// Range calls fn for every entity, in an order that Put replays into
	// the same store (so that eviction goes on the same after a restore);
	// it stops at the first error. fn must not keep or change the entity.
	Range(fn func(*Entity) error) error
	// Put stores e, replacing any entity under its key.
	Put(e *Entity)
	// Reset deletes every entity.
	Reset()
	// Stats counts the entities and what was deleted.
	Stats() StoreStats
}

// StoreStats are a store's counters.
type StoreStats struct {
	Entities int    // held now
	Evicted  uint64 // deleted to stay within the entity cap
	Expired  uint64 // deleted because their state expired
}
