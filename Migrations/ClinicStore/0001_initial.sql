-- 0001: the first schema of the local store.
-- Rules (docs/architecture.md): UUID text keys; no UNIQUE constraint that two offline devices
-- could both satisfy; soft deletes; every write to patients, recordings and assessments is
-- recorded in change_log in the same transaction. Shipped migrations are never edited.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE patients (
    id           TEXT PRIMARY KEY NOT NULL,
    external_id  TEXT,
    given_name   TEXT NOT NULL,
    family_name  TEXT NOT NULL,
    sex          TEXT,
    birth_date   TEXT,
    age_group    TEXT,
    notes        TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    deleted      INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1))
) STRICT;
CREATE INDEX patients_external_id ON patients(external_id);
CREATE INDEX patients_family_name ON patients(family_name COLLATE NOCASE, given_name COLLATE NOCASE);

-- Full-text index over names and external id, kept in step with patients by triggers.
CREATE VIRTUAL TABLE patients_fts USING fts5(
    given_name, family_name, external_id,
    content='patients', content_rowid='rowid',
    tokenize="unicode61 remove_diacritics 2",
    prefix='1 2 3'
);
CREATE TRIGGER patients_fts_insert AFTER INSERT ON patients BEGIN
    INSERT INTO patients_fts(rowid, given_name, family_name, external_id)
    VALUES (new.rowid, new.given_name, new.family_name, new.external_id);
END;
CREATE TRIGGER patients_fts_delete AFTER DELETE ON patients BEGIN
    INSERT INTO patients_fts(patients_fts, rowid, given_name, family_name, external_id)
    VALUES ('delete', old.rowid, old.given_name, old.family_name, old.external_id);
END;
CREATE TRIGGER patients_fts_update AFTER UPDATE ON patients BEGIN
    INSERT INTO patients_fts(patients_fts, rowid, given_name, family_name, external_id)
    VALUES ('delete', old.rowid, old.given_name, old.family_name, old.external_id);
    INSERT INTO patients_fts(rowid, given_name, family_name, external_id)
    VALUES (new.rowid, new.given_name, new.family_name, new.external_id);
END;

-- Recordings are immutable once stored (only the deleted flag changes).
CREATE TABLE recordings (
    id                TEXT PRIMARY KEY NOT NULL,
    patient_id        TEXT NOT NULL REFERENCES patients(id),
    location          TEXT NOT NULL,
    recorded_at       TEXT NOT NULL,
    operator          TEXT,
    device            TEXT,
    original_filename TEXT NOT NULL,
    original_format   TEXT NOT NULL,
    original_sha256   TEXT NOT NULL,
    original_size     INTEGER NOT NULL,
    stored_format     TEXT NOT NULL,
    sample_rate       INTEGER NOT NULL,
    channels          INTEGER NOT NULL,
    frames            INTEGER NOT NULL,
    duration          REAL NOT NULL,
    audio_sha256      TEXT NOT NULL,
    audio_size        INTEGER NOT NULL,
    samples_sha256    TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    deleted           INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1))
) STRICT;
CREATE INDEX recordings_patient ON recordings(patient_id, recorded_at);
CREATE INDEX recordings_audio ON recordings(audio_sha256);
CREATE INDEX recordings_samples ON recordings(patient_id, samples_sha256);

-- Assessments are append-only; their content is filled by the assessment issue.
CREATE TABLE assessments (
    id            TEXT PRIMARY KEY NOT NULL,
    recording_id  TEXT NOT NULL REFERENCES recordings(id),
    kind          TEXT NOT NULL,
    model         TEXT NOT NULL,
    model_version TEXT NOT NULL,
    result        TEXT NOT NULL,
    created_at    TEXT NOT NULL
) STRICT;
CREATE INDEX assessments_recording ON assessments(recording_id);

-- The change log: what sync pushes. seq is the local sequence number (never reused);
-- fields is a JSON object of the fields changed with their new values.
CREATE TABLE change_log (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    change_id  TEXT NOT NULL,
    entity     TEXT NOT NULL CHECK (entity IN ('patient', 'recording', 'assessment')),
    entity_id  TEXT NOT NULL,
    op         TEXT NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
    fields     TEXT NOT NULL CHECK (json_valid(fields)),
    hlc        TEXT NOT NULL,
    device_id  TEXT NOT NULL
) STRICT;
CREATE INDEX change_log_entity ON change_log(entity, entity_id, seq);
