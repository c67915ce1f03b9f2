-- Escalation timers: one row per unacknowledged alert an escalation policy
-- matched, armed when it was raised or reopened, due when its next notice is.
-- Times are fixed-width RFC 3339 UTC text (sqldb.FormatTime).
CREATE TABLE alert_escalations (
	alert_id   INTEGER PRIMARY KEY REFERENCES alerts (id) ON DELETE CASCADE,
	policy     TEXT    NOT NULL,
	started_at TEXT    NOT NULL, -- raised or reopened: the levels count from here
	step       INTEGER NOT NULL, -- notices sent so far
	due_at     TEXT    NOT NULL  -- when the next notice is due
);
CREATE INDEX alert_escalations_due ON alert_escalations (due_at);
