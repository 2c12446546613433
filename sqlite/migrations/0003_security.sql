-- The security gateway: narrowed keys (scopes), key use and the key
-- generation counter that lets servers cache key lookups safely.

-- Space-separated permissions narrowing the key's role; '' = the whole role.
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT '';

-- When a key was last used (nanoseconds; NULL: never). Written at most once
-- a minute per key, off the request path.
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;

-- A counter bumped in the same transaction as every key create, revoke and
-- import: servers cache key lookups and re-check this one row per request,
-- so a key revoked by another process stops at once.
CREATE TABLE key_generation (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    gen INTEGER NOT NULL
);
INSERT INTO key_generation (id, gen) VALUES (1, 0);

-- The audit trail of administrative actions, append-only: the triggers
-- refuse every change and removal.
CREATE TABLE audit_log (
    tenant    TEXT    NOT NULL,
    id        TEXT    NOT NULL, -- a ULID: newest first is id order
    at        INTEGER NOT NULL,
    action    TEXT    NOT NULL,
    principal TEXT    NOT NULL,
    target    TEXT    NOT NULL DEFAULT '',
    detail    TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;

-- First answers of POSTs made with an Idempotency-Key, kept 24 h. status 0:
-- the first request is still running.
CREATE TABLE idempotency (
    tenant       TEXT    NOT NULL,
    credential   TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    header       TEXT    NOT NULL DEFAULT '{}',
    body         BLOB,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant, credential, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_created ON idempotency (created_at);
