-- Alerts, the records that made them, and their audit trail.
-- Times are fixed-width RFC 3339 UTC text (sqldb.FormatTime): they sort as text.

CREATE TABLE alerts (
	id              INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: IDs are shown to people
	fingerprint     TEXT    NOT NULL,
	rule            TEXT    NOT NULL,
	title           TEXT    NOT NULL,
	severity        TEXT    NOT NULL,
	action          TEXT    NOT NULL,
	entity_field    TEXT    NOT NULL,
	entity_value    TEXT    NOT NULL,
	status          TEXT    NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
	resolution      TEXT    NOT NULL DEFAULT '',
	reason          TEXT    NOT NULL,
	last_record_id  TEXT    NOT NULL,
	count           INTEGER NOT NULL,
	first_seen      TEXT    NOT NULL,
	last_seen       TEXT    NOT NULL,
	created_at      TEXT    NOT NULL,
	updated_at      TEXT    NOT NULL,
	policy_revision TEXT    NOT NULL DEFAULT '',
	owner           TEXT    NOT NULL DEFAULT '',
	runbook         TEXT    NOT NULL DEFAULT '',
	tags            TEXT    NOT NULL DEFAULT '[]', -- JSON array of strings
	acked_by        TEXT    NOT NULL DEFAULT '',
	acked_at        TEXT,
	resolved_by     TEXT    NOT NULL DEFAULT '',
	resolved_at     TEXT,
	comment         TEXT    NOT NULL DEFAULT '',
	version         INTEGER NOT NULL DEFAULT 1
);

-- Dedup: at most one unresolved alert per fingerprint, even across processes.
CREATE UNIQUE INDEX alerts_unresolved_fingerprint ON alerts (fingerprint) WHERE status <> 'resolved';
CREATE INDEX alerts_fingerprint_status ON alerts (fingerprint, status);
CREATE INDEX alerts_status ON alerts (status, id);
CREATE INDEX alerts_rule ON alerts (rule, id);
CREATE INDEX alerts_entity ON alerts (entity_value, entity_field);
CREATE INDEX alerts_created ON alerts (created_at);

CREATE TABLE alert_records (
	id        INTEGER PRIMARY KEY,
	alert_id  INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
	record_id TEXT    NOT NULL,
	ts        TEXT    NOT NULL, -- the record's event time
	fields    TEXT    NOT NULL, -- JSON: the normalised record
	decision  TEXT    NOT NULL, -- JSON: the decision made on it
	added_at  TEXT    NOT NULL
);
CREATE INDEX alert_records_alert ON alert_records (alert_id, id);

-- The audit trail, and the feed notify tails by id: AUTOINCREMENT so that an
-- id is never reused, even after the newest rows are deleted.
CREATE TABLE alert_events (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	alert_id INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
	kind     TEXT    NOT NULL,
	actor    TEXT    NOT NULL,
	ts       TEXT    NOT NULL,
	comment  TEXT    NOT NULL DEFAULT '',
	data     TEXT    NOT NULL DEFAULT '' -- JSON
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, id);
-- The notify feed (see Feed); partial, so that the frequent repeated events skip it.
CREATE INDEX alert_events_feed ON alert_events (id) WHERE kind IN ('raised', 'resolved');
