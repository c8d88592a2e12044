-- 0003: changes pulled from the server (docs/sync-client.md). Appended; 0001 and 0002 are never edited.

-- Every feed entry another device wrote, as pulled, with its server sequence number. The
-- tables hold the merge of the change log and these (per field, the value with the latest
-- clock); `clinic doctor` replays both to check them. Kept in the same transaction as the
-- page's pull cursor. `applied` is 0 for an entry the merge rules refused here (counted and
-- shown by `clinic sync`; it changed nothing).
CREATE TABLE pulled_changes (
    server_seq INTEGER PRIMARY KEY NOT NULL CHECK (server_seq > 0),
    change_id  TEXT NOT NULL UNIQUE,
    entity     TEXT NOT NULL CHECK (entity IN ('patient', 'recording', 'assessment')),
    entity_id  TEXT NOT NULL,
    op         TEXT NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
    fields     TEXT NOT NULL CHECK (json_valid(fields)),
    hlc        TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    applied    INTEGER NOT NULL CHECK (applied IN (0, 1)),
    pulled_at  TEXT NOT NULL
) STRICT;
CREATE INDEX pulled_changes_entity ON pulled_changes(entity, entity_id);

-- Conflicts as the server reports them are kept by the server's id; `resolution_seq` is the
-- change-log entry that resolved one here (`clinic conflicts resolve`).
ALTER TABLE conflicts ADD COLUMN change_id TEXT;
ALTER TABLE conflicts ADD COLUMN resolution_seq INTEGER REFERENCES change_log(seq);
