-- Act-from-chat links are single use: a link's nonce is kept here once it
-- has acted, until the link would have expired anyway.
CREATE TABLE auth_used_links (
	nonce      TEXT    NOT NULL PRIMARY KEY,
	alert_id   INTEGER NOT NULL,
	action     TEXT    NOT NULL,
	used_by    TEXT    NOT NULL, -- the actor recorded on the alert
	used_at    TEXT    NOT NULL,
	expires_at TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX auth_used_links_expiry ON auth_used_links (expires_at);
