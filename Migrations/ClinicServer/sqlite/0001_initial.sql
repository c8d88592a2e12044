-- 0001: the central server's first schema (SQLite backend). Keep in step with postgres/0001.
CREATE TABLE sites (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
) STRICT;

-- Enrolled devices; only the SHA-256 of each bearer token is kept.
CREATE TABLE devices (
    id         TEXT PRIMARY KEY NOT NULL,
    site_id    TEXT NOT NULL REFERENCES sites(id),
    name       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
) STRICT;

-- Current merged state of every record: fields, per-field clocks and bases, as JSON.
CREATE TABLE records (
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    site_id    TEXT NOT NULL REFERENCES sites(id),
    state      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (entity, entity_id)
) STRICT;

-- Each site's feed of accepted changes, in server order.
CREATE TABLE feed (
    server_seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id     TEXT NOT NULL REFERENCES sites(id),
    device_id   TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    change      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    received_at TEXT NOT NULL
) STRICT;
CREATE INDEX feed_site ON feed(site_id, server_seq);

-- The answer given to each (device, seq): replays get the same answer.
CREATE TABLE receipts (
    device_id  TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    change_id  TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    reason     TEXT,
    server_seq INTEGER,
    PRIMARY KEY (device_id, seq)
) STRICT;

CREATE TABLE conflicts (
    id         TEXT PRIMARY KEY NOT NULL,
    site_id    TEXT NOT NULL REFERENCES sites(id),
    record     TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX conflicts_site ON conflicts(site_id, created_at, id);

-- Complete audio blobs, and which sites hold each (a site sees only its own).
CREATE TABLE blobs (
    sha256     TEXT PRIMARY KEY NOT NULL,
    size       INTEGER NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE TABLE blob_sites (
    sha256  TEXT NOT NULL REFERENCES blobs(sha256),
    site_id TEXT NOT NULL REFERENCES sites(id),
    PRIMARY KEY (sha256, site_id)
) STRICT;
