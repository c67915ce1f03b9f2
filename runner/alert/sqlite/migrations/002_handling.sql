-- Alert handling: assignment, snooze, escalation and downgrade state on the
-- alert; the audit trail as a hash chain; cursors for the consumers of the
-- event feed (escalation, auto-actions).

ALTER TABLE alerts ADD COLUMN assignee        TEXT    NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN snoozed_until   TEXT;
ALTER TABLE alerts ADD COLUMN updated_by      TEXT    NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN downgraded      INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN escalation_level INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN escalations     INTEGER NOT NULL DEFAULT 0;
-- The version right after the latest action: an action based on an older one is stale.
ALTER TABLE alerts ADD COLUMN handled_version INTEGER NOT NULL DEFAULT 1;
-- Wall time of the latest hit (raise or repeat): auto-resolve looks for quiet alerts.
ALTER TABLE alerts ADD COLUMN last_hit_at     TEXT    NOT NULL DEFAULT '';
UPDATE alerts SET handled_version = version, last_hit_at = updated_at;

CREATE INDEX alerts_assignee ON alerts (assignee, id) WHERE assignee <> '';
-- Precision per rule, counted from the index alone.
CREATE INDEX alerts_resolved_labels ON alerts (rule, resolution) WHERE status = 'resolved';

-- The chain: hash = SHA-256 over the event and prev_hash (alert.ChainHash).
-- Rows written before this migration are hashed in ID order when the store
-- next opens (alertsqlite.New).
ALTER TABLE alert_events ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE alert_events ADD COLUMN hash      TEXT NOT NULL DEFAULT '';

-- Append-only: a hashed event cannot be changed or deleted through SQL
-- without dropping these first (which `vigil audit verify` then catches).
CREATE TRIGGER alert_events_no_update BEFORE UPDATE ON alert_events WHEN OLD.hash <> ''
BEGIN SELECT RAISE(ABORT, 'alert_events is append-only'); END;
CREATE TRIGGER alert_events_no_delete BEFORE DELETE ON alert_events
BEGIN SELECT RAISE(ABORT, 'alert_events is append-only'); END;

-- The notify feed now also carries reopened alerts and notices (escalated,
-- guard_tripped). The condition must match qFeed word for word.
DROP INDEX alert_events_feed;
CREATE INDEX alert_events_feed ON alert_events (id)
	WHERE kind IN ('raised', 'resolved', 'reopened', 'escalated', 'guard_tripped');

-- Where each consumer of the events (alertsqlite.Consume) has got to.
CREATE TABLE alert_cursors (
	name       TEXT    PRIMARY KEY,
	event_id   INTEGER NOT NULL,
	updated_at TEXT    NOT NULL
);
