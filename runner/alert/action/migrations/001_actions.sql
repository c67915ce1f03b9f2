-- Auto-action calls: one row per new alert an action was picked for, written
-- in the transaction that reads its raised event — before any call is made —
-- so that a restart resumes what is pending. Times are fixed-width RFC 3339
-- UTC text (sqldb.FormatTime).
CREATE TABLE alert_actions (
	id              INTEGER PRIMARY KEY,
	alert_id        INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
	rule            TEXT    NOT NULL,
	action          TEXT    NOT NULL, -- the endpoint's name
	idempotency_key TEXT    NOT NULL UNIQUE,
	-- pending: to call; succeeded, failed: called; suppressed: the guard
	-- stopped it (the alert is downgraded); skipped: no such endpoint.
	state           TEXT    NOT NULL,
	settled         INTEGER NOT NULL DEFAULT 0, -- the outcome is on the alert (note or downgrade)
	scheduled_at    TEXT    NOT NULL, -- the alert's raise: what the guard counts
	due_at          TEXT    NOT NULL, -- the next attempt
	attempts        INTEGER NOT NULL DEFAULT 0,
	body            TEXT,             -- the request, fixed at the first attempt so that retries send the same
	http_status     INTEGER NOT NULL DEFAULT 0,
	error           TEXT    NOT NULL DEFAULT '',
	response        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX alert_actions_due ON alert_actions (state, due_at);
CREATE INDEX alert_actions_unsettled ON alert_actions (settled, state);
CREATE INDEX alert_actions_rule ON alert_actions (rule, scheduled_at);

-- The blast-radius guard of each rule that ever had an auto-action.
CREATE TABLE action_guards (
	rule          TEXT    PRIMARY KEY,
	armed_at      TEXT    NOT NULL,           -- calls before it do not count (a reset starts afresh)
	tripped_at    TEXT,                       -- NULL: armed
	trip_alert_id INTEGER,                    -- the alert whose call would have exceeded the limit
	notified      INTEGER NOT NULL DEFAULT 0, -- on-call was told of this trip
	trips         INTEGER NOT NULL DEFAULT 0
);
