package feature

// Entity is the feature state of one entity value — one card, one customer,
// one (customer, device) pair: a series state for each series of its kind
// that it has contributions to. A Store keeps entities by key; the engine
// reads and changes them only inside Store.View and Store.Update, under the
// key's lock.
type Entity struct {
	key     string
	expires int64 // event time (unix ns) from which the state is dead
	updated int64 // the watermark at the last update (unix ns), for eviction
	slots   []slot
	pos     int32 // MemoryStore: index in its shard's slice
}

type slot struct {
	id uint64 // seriesPlan.id
	s  series
}

// NewEntity returns an empty entity to be stored under key.
func NewEntity(key string) *Entity { return &Entity{key: key, expires: minTime, updated: minTime} }

// Key is the entity's store key: an entity-kind tag and the entity's values.
func (e *Entity) Key() string { return e.key }

// Expires is the event time (unix nanoseconds) from which nothing of the
// entity can be read any more: a store may delete it once the watermark
// reaches it.
func (e *Entity) Expires() int64 { return e.expires }

// Updated is the watermark (unix nanoseconds) when the entity was last
// updated: a store evicts the least recently updated first.
func (e *Entity) Updated() int64 { return e.updated }

// Empty reports whether the entity holds no state (a store deletes it).
func (e *Entity) Empty() bool { return len(e.slots) == 0 }

// find returns the state of series id; hint is where it usually is.
func (e *Entity) find(id uint64, hint int) series {
	if hint < len(e.slots) && e.slots[hint].id == id {
		return e.slots[hint].s
	}
	for i := range e.slots {
		if e.slots[i].id == id {
			return e.slots[i].s
		}
	}
	return nil
}
