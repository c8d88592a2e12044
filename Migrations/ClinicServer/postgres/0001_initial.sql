-- 0001: the central server's first schema (PostgreSQL backend). Keep in step with sqlite/0001.
CREATE TABLE sites (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

CREATE TABLE devices (
    id         TEXT PRIMARY KEY,
    site_id    TEXT NOT NULL REFERENCES sites(id),
    name       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE records (
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    site_id    TEXT NOT NULL REFERENCES sites(id),
    state      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (entity, entity_id)
);

CREATE TABLE feed (
    server_seq  BIGSERIAL PRIMARY KEY,
    site_id     TEXT NOT NULL REFERENCES sites(id),
    device_id   TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    change      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX feed_site ON feed(site_id, server_seq);

CREATE TABLE receipts (
    device_id  TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    change_id  TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    reason     TEXT,
    server_seq BIGINT,
    PRIMARY KEY (device_id, seq)
);

CREATE TABLE conflicts (
    id         TEXT PRIMARY KEY,
    site_id    TEXT NOT NULL REFERENCES sites(id),
    record     TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX conflicts_site ON conflicts(site_id, created_at, id);

CREATE TABLE blobs (
    sha256     TEXT PRIMARY KEY,
    size       BIGINT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE blob_sites (
    sha256  TEXT NOT NULL REFERENCES blobs(sha256),
    site_id TEXT NOT NULL REFERENCES sites(id),
    PRIMARY KEY (sha256, site_id)
);
