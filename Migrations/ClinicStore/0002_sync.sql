-- 0002: what the sync client keeps (docs/sync-client.md). Appended; 0001 is never edited.

-- Per-field clocks: for every field of every record, the clock (`HLC@device`, which sorts as
-- text in clock order) of the write that set its current value. A push carries these as
-- `base` for the fields it changes, so the server can tell an edit made after seeing another
-- from a concurrent one. Kept in the same transaction as the change that sets them.
CREATE TABLE field_clocks (
    entity     TEXT NOT NULL CHECK (entity IN ('patient', 'recording', 'assessment')),
    entity_id  TEXT NOT NULL,
    field      TEXT NOT NULL,
    clock      TEXT NOT NULL,
    PRIMARY KEY (entity, entity_id, field)
) STRICT, WITHOUT ROWID;

-- The clocks of what is already logged: for each field, the latest write to it.
INSERT INTO field_clocks (entity, entity_id, field, clock)
SELECT c.entity, c.entity_id, f.key, MAX(c.hlc || '@' || c.device_id)
FROM change_log AS c, json_each(c.fields) AS f
GROUP BY c.entity, c.entity_id, f.key;

-- Each change's base: for each field it changes, the clock of the value it replaced (the
-- field's clock when the change was written; absent for a field with no earlier value).
-- Sent with the change on push. Older entries get theirs from the log before them.
ALTER TABLE change_log ADD COLUMN base TEXT CHECK (base IS NULL OR json_valid(base));
UPDATE change_log SET base = (
    SELECT json_group_object(key, clock) FROM (
        SELECT f.key AS key,
               (SELECT MAX(p.hlc || '@' || p.device_id) FROM change_log AS p, json_each(p.fields) AS pf
                WHERE p.entity = change_log.entity AND p.entity_id = change_log.entity_id
                  AND p.seq < change_log.seq AND pf.key = f.key) AS clock
        FROM json_each(change_log.fields) AS f)
    WHERE clock IS NOT NULL);

-- The sync cursors and the last run: push_cursor (highest acknowledged seq), pull_cursor
-- (the server's `next`), last_sync_at, last_result, last_error. Each cursor is saved in the
-- same transaction as the work it covers.
CREATE TABLE sync_state (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

-- Audio the server is known to hold for this site (so it is not asked again).
CREATE TABLE server_blobs (
    sha256       TEXT PRIMARY KEY NOT NULL CHECK (length(sha256) = 64),
    confirmed_at TEXT NOT NULL
) STRICT;

-- Entries the server rejected, with its reason: shown by `clinic sync` and `clinic status`,
-- never retried, never silently dropped.
CREATE TABLE sync_rejections (
    seq         INTEGER PRIMARY KEY NOT NULL REFERENCES change_log(seq),
    reason      TEXT NOT NULL,
    rejected_at TEXT NOT NULL
) STRICT;

-- Conflicts: a field edited on two devices, neither after seeing the other. The losing value
-- is kept here until someone resolves it (`clinic conflicts resolve`).
CREATE TABLE conflicts (
    id            TEXT PRIMARY KEY NOT NULL,
    entity        TEXT NOT NULL CHECK (entity IN ('patient', 'recording', 'assessment')),
    entity_id     TEXT NOT NULL,
    field         TEXT NOT NULL,
    losing_value  TEXT NOT NULL CHECK (json_valid(losing_value)),
    losing_clock  TEXT NOT NULL,
    winning_value TEXT NOT NULL CHECK (json_valid(winning_value)),
    winning_clock TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    resolved_at   TEXT
) STRICT;
CREATE INDEX conflicts_open ON conflicts(resolved_at, entity, entity_id);
