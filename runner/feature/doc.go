// Package feature computes stateful features over event time — counts,
// sums, averages, extremes, spreads, distinct values, first sightings, last
// values and ratios per entity over sliding windows — and hands them to the
// rules as input.features. Rego is stateless; the state lives here.
//
// # Specs
//
// Features are declared in the bundle's features.yaml and parsed by
// ParseSpecs:
//
//	version: 1
//	features:
//	  - name: customer_amount_avg_30d
//	    entity: customer_id          # or a composite: [customer_id, device_id]
//	    aggregate: avg               # count sum avg min max stddev distinct first_seen_age last ratio
//	    field: amount
//	    window: 30d                  # 1s .. 90d
//	    filter: {type: payment}
//
// Options per feature: resolution (bucket width, default 1s), default (the
// value when the aggregate is undefined), lateness (overrides the engine's),
// at (a timestamp field that places the contribution), delay and filter.
//
// # The window convention
//
// A feature read for a record at event time t aggregates the contributions
// whose contribution time lies in (t − delay − window, t − delay]. The
// current record is included when it matches the filter and delay is 0.
// This is pandas' rolling('7d') on a time index, the definitions of the
// Fraud Detection Handbook. A contribution's time is the record's event
// time, or the value of the feature's `at` field when the record has it (a
// label placed at the time of the transaction it is about).
//
// Undefined values — avg, min or max of nothing, stddev of fewer than two
// values (sample stddev, n−1), a ratio with a zero denominator, last with
// nothing — are absent from the result unless the feature has a default.
// count, sum and distinct of nothing are 0. A record missing (or with an
// empty) entity field gets none of that entity's features, nor ratios over
// them. first_seen_age is the number of seconds since the first matching
// record of the entity's current run of activity, 0 for a first sighting;
// an entity without a matching record for a whole window is new again.
// last is the field value of the most recent matching contribution at or
// before t within the window (no delay). distinct counts distinct values of
// the field. For sum, avg, min, max and stddev a boolean counts as 1 or 0,
// and a matching record whose field is absent or not a number contributes
// nothing (count still counts it).
//
// # State
//
// Features reading the same series — entity, filter, field, contribution
// kind, at and resolution — share one state: customer count and avg over
// 1d, 7d and 30d are reads of one series kept for 30 days. A series is
// identified by a stable hash of its definition, so its state survives a
// reload of features.yaml that leaves it unchanged (Reconfigure) and a
// restart (Snapshot, Restore).
//
// Per entity and series the state is a time-ordered sparse list of buckets
// of the series' resolution, holding what its readers need (counts; or
// counts, sums, sums of squares, min and max; or value sets). Each bucket
// keeps the times of its first and last contribution, so with 1s resolution
// and timestamps in whole seconds every window edge is exact. Sums are
// double-double (TwoSum), so a window's sum is the exact sum correctly
// rounded, whatever the bucket grouping (see dd).
//
// Memory is bounded: an entity's series holds at most Options.MaxBuckets
// buckets — past that the adjacent pair with the smallest combined span is
// merged, and a merged bucket straddling a window edge contributes in
// proportion to its overlap (min, max, distinct and last take it when at
// least half of it is inside). Buckets older than the series' retention
// (its longest window + delay, plus its lateness) are dropped, and entities
// idle for longer expire; a read never sees state beyond the retention, so
// when expired state is swept changes no value. distinct is exact up to
// Options.DistinctExact values per entity-series, then HyperLogLog (standard
// error 1.04/√256 = 6.5%). MemoryOptions.MaxEntities caps the entities,
// evicting the least recently updated.
//
// # Event time, lateness, duplicates
//
// The watermark is the latest record time applied. A contribution older
// than the watermark minus its lateness (Options.Lateness, default 5m, or
// the feature's) is late: it is not applied, the record's features are
// still read as of its own time, and the late counter moves. Out-of-order
// contributions within the lateness go into their buckets; the values are
// exact whatever the arrival order, for reads within the lateness. A late
// record reads only what is still within retention.
//
// A record whose id was applied before, within the dedup horizon, is a
// duplicate: nothing is applied, its features are read and returned.
//
// Label records (type label) are records like any other: the features whose
// filter selects them count them, placed by `at: event_ts` at the time of
// the labelled transaction. A label without the entity field contributes
// nothing to that entity; a non-boolean fraud never gets here (the schema
// refuses it); a label whose id was applied before is a duplicate, ignored;
// a label whose event_ts is older than the watermark minus the feature's
// lateness is late: counted as late, not applied.
//
// # Concurrency
//
// Apply may run on many goroutines: the store is sharded by entity key and
// records of different entities proceed in parallel. Records of one entity
// must be applied in order by the caller; the same records in the same
// order give the same values.
package feature
