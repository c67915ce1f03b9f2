-- Silences and their audit trail. Times are fixed-width RFC 3339 UTC text
-- (sqldb.FormatTime): they compare correctly as text.

CREATE TABLE silences (
	id         TEXT PRIMARY KEY, -- a UUIDv7: sorts by creation
	matchers   TEXT NOT NULL,    -- JSON list of matcher strings, e.g. ["severity=\"high\""]
	starts_at  TEXT NOT NULL,
	ends_at    TEXT NOT NULL,    -- expiring a silence moves this to the time of expiry
	created_by TEXT NOT NULL,
	comment    TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
-- The silences in force at a time: ends_at > now, the few still running.
CREATE INDEX silences_ends ON silences (ends_at);

CREATE TABLE silence_events (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	silence_id TEXT    NOT NULL REFERENCES silences (id),
	kind       TEXT    NOT NULL CHECK (kind IN ('created', 'expired')),
	actor      TEXT    NOT NULL,
	ts         TEXT    NOT NULL,
	data       TEXT    NOT NULL -- JSON: the silence right after the change
);
CREATE INDEX silence_events_silence ON silence_events (silence_id, id);
