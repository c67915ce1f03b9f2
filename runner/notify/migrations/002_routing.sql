-- Alertmanager-style notification: alerts are routed into groups, a group's
-- notifications (Messages) wait in the outbox, and each receiver sends them
-- within its vendor's rate limit, merging what waited into digests.
-- Times are fixed-width RFC 3339 UTC text (sqldb.FormatTime).

-- The first outbox held one notification per alert event and receiver.
-- Those still pending are routed again: the cursor moves back before the
-- oldest of them.
UPDATE notify_cursor
SET event_id = (SELECT MIN(event_id) - 1 FROM notifications WHERE status = 'pending')
WHERE name = 'alert_events' AND EXISTS (SELECT 1 FROM notifications WHERE status = 'pending');
DROP TABLE notifications;

-- A group: the alerts one route sends together to one receiver.
CREATE TABLE notify_groups (
	id                INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: part of idempotency keys
	group_key         TEXT    NOT NULL UNIQUE,           -- route ID and group labels
	route             TEXT    NOT NULL,                  -- route.Key(): which route, receiver and group_by
	receiver          TEXT    NOT NULL,
	labels            TEXT    NOT NULL,                  -- JSON: the group labels
	created_at        TEXT    NOT NULL,
	next_flush_at     TEXT    NOT NULL,                  -- created + group_wait, then every group_interval
	-- The notification log (Alertmanager's nflog): what the last notification said.
	notified_at       TEXT,
	notified_firing   TEXT    NOT NULL DEFAULT '[]',     -- JSON alert IDs
	notified_resolved TEXT    NOT NULL DEFAULT '[]',
	notifications     INTEGER NOT NULL DEFAULT 0         -- how many so far: part of idempotency keys
);
CREATE INDEX notify_groups_due ON notify_groups (next_flush_at);

CREATE TABLE notify_group_alerts (
	group_id   INTEGER NOT NULL REFERENCES notify_groups (id) ON DELETE CASCADE,
	alert_id   INTEGER NOT NULL,
	labels     TEXT    NOT NULL, -- JSON: the alert's label set
	resolved   INTEGER NOT NULL DEFAULT 0,
	updated_at TEXT    NOT NULL,
	PRIMARY KEY (group_id, alert_id)
) WITHOUT ROWID;
-- The firing alerts, as sources of inhibition.
CREATE INDEX notify_group_alerts_firing ON notify_group_alerts (alert_id) WHERE resolved = 0;

-- The outbox: one row per message. A group's notification starts pending
-- and waiting (not rendered); the receiver's sender renders it — or a digest
-- merged from every waiting one, which then become 'merged' — into payloads,
-- and sends them one by one (parts_sent), within the rate limit. The message
-- and its payloads, which can be large, live in notification_bodies so that
-- the updates after each send stay small.
CREATE TABLE notifications (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	receiver        TEXT    NOT NULL,
	group_key       TEXT    NOT NULL,
	group_labels    TEXT    NOT NULL DEFAULT '{}', -- JSON
	kind            TEXT    NOT NULL CHECK (kind IN ('firing', 'resolved')),
	alerts          INTEGER NOT NULL, -- how many alerts it carries
	digest          INTEGER NOT NULL DEFAULT 1, -- how many group notifications it carries
	idempotency_key TEXT    NOT NULL UNIQUE,
	status          TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'merged', 'rerouted')),
	rendered        INTEGER NOT NULL DEFAULT 0, -- payloads stored: the message is frozen from then on
	parts           INTEGER NOT NULL DEFAULT 0,
	parts_sent      INTEGER NOT NULL DEFAULT 0,
	attempts        INTEGER NOT NULL DEFAULT 0, -- sends made, every part and retry
	failures        INTEGER NOT NULL DEFAULT 0, -- failed sends of the current part in a row
	next_attempt_at TEXT    NOT NULL,
	last_error      TEXT    NOT NULL DEFAULT '',
	carried_by      INTEGER REFERENCES notifications (id), -- merged: the digest; rerouted: the fallback's copy
	created_at      TEXT    NOT NULL,
	updated_at      TEXT    NOT NULL,
	delivered_at    TEXT
);
CREATE TABLE notification_bodies (
	id       INTEGER PRIMARY KEY REFERENCES notifications (id),
	message  TEXT NOT NULL, -- JSON: the Message
	payloads TEXT           -- JSON: []Payload, once rendered
);
CREATE INDEX notifications_queue ON notifications (receiver, id) WHERE status = 'pending';
CREATE INDEX notifications_status ON notifications (status, id);
CREATE INDEX notifications_receiver ON notifications (receiver, id);

-- Each receiver's recent sends (its rate limit survives restarts) and how
-- long it has been failing (for fallback).
CREATE TABLE notify_receivers (
	name          TEXT PRIMARY KEY,
	sends         TEXT NOT NULL DEFAULT '[]', -- JSON: unix nanoseconds of the sends in the last minute
	failing_since TEXT,
	updated_at    TEXT NOT NULL
);

-- Small facts the dispatcher keeps: 'routes' is a digest of the routing tree
-- its groups were made with; when it changes, alerts are routed again.
CREATE TABLE notify_state (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
