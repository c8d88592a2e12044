-- 0002: each accepted change's pull form, written when it is accepted, so a pull is one ordered
-- range read with no re-encoding (docs/architecture.md, "Server performance"). Keep in step with
-- postgres/0002. Keyed (site_id, server_seq) without a rowid: a site's feed is contiguous on disk.
-- `entry` is the JSON of one element of the pull response's `changes` (FeedEntry). Rows are
-- derived from `feed`, which stays the record of what was pushed (with its base); the server
-- fills this table for the rows already there when it applies this migration.
CREATE TABLE feed_entries (
    site_id    TEXT NOT NULL,
    server_seq INTEGER NOT NULL,
    entry      TEXT NOT NULL,
    PRIMARY KEY (site_id, server_seq)
) STRICT, WITHOUT ROWID;

-- Pulls read feed_entries now; the feed's site index only cost every push a second B-tree write.
DROP INDEX feed_site;
