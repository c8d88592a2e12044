-- 0003: receipts keyed by (device_id, seq) without a rowid. Every accepted or refused entry
-- writes one receipt; as a rowid table with a primary-key index that was two B-tree inserts,
-- now it is one, and a replay's lookup reads the row from the key's own B-tree. The SQLite
-- table is rebuilt with its rows; PostgreSQL has no rowids and no 0003.
CREATE TABLE receipts_0003 (
    device_id  TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    change_id  TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    reason     TEXT,
    server_seq INTEGER,
    PRIMARY KEY (device_id, seq)
) STRICT, WITHOUT ROWID;
INSERT INTO receipts_0003(device_id, seq, change_id, outcome, reason, server_seq)
    SELECT device_id, seq, change_id, outcome, reason, server_seq FROM receipts;
DROP TABLE receipts;
ALTER TABLE receipts_0003 RENAME TO receipts;
