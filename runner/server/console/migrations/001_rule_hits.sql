-- Rule hits per hour (wall time), enforced and shadow, for the console's
-- rules page: shadow hits raise no alert, so the alerts cannot tell them.
CREATE TABLE console_rule_hits (
	rule        TEXT    NOT NULL,
	hour        TEXT    NOT NULL, -- sqldb.FormatTime of the hour's start
	hits        INTEGER NOT NULL DEFAULT 0,
	shadow_hits INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (rule, hour)
) WITHOUT ROWID;
CREATE INDEX console_rule_hits_hour ON console_rule_hits (hour);
