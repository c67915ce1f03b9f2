-- The notification outbox: one row per alert event (raised, resolved) and
-- receiver, written in the same transaction that moves the cursor over
-- alert_events. Times are fixed-width RFC 3339 UTC text (sqldb.FormatTime).

CREATE TABLE notify_cursor (
	name       TEXT    PRIMARY KEY,
	event_id   INTEGER NOT NULL, -- the last alert_events.id fanned out
	updated_at TEXT    NOT NULL
);

CREATE TABLE notifications (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	receiver        TEXT    NOT NULL,
	event_id        INTEGER NOT NULL,
	alert_id        INTEGER NOT NULL,
	kind            TEXT    NOT NULL CHECK (kind IN ('firing', 'resolved')),
	alert           TEXT    NOT NULL, -- JSON: the alert as of the event
	idempotency_key TEXT    NOT NULL,
	status          TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at TEXT    NOT NULL,
	last_error      TEXT    NOT NULL DEFAULT '',
	created_at      TEXT    NOT NULL,
	updated_at      TEXT    NOT NULL,
	delivered_at    TEXT,
	UNIQUE (event_id, receiver) -- fan-out is idempotent
);

-- What a sender claims next, and whether an older notification of the same
-- alert still waits (they go out in order per alert and receiver). Partial:
-- only pending rows, which are few.
CREATE INDEX notifications_due ON notifications (receiver, next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_pending_alert ON notifications (alert_id, receiver, id) WHERE status = 'pending';
CREATE INDEX notifications_alert ON notifications (alert_id, id);
CREATE INDEX notifications_status ON notifications (status, id);
