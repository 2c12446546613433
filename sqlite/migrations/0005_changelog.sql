-- The change log: every committed mutation of a context, relationship,
-- memory or session, written in the same transaction as the change (see
-- changelog.go). AUTOINCREMENT: a seq is never reused, even after the newest
-- rows are pruned, and a rolled-back insert gives its number back (the
-- sqlite_sequence row rolls back with it), so seqs are continuous.
CREATE TABLE changes (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,              -- unix nanoseconds UTC
    tenant    TEXT    NOT NULL,
    principal TEXT    NOT NULL DEFAULT '',
    op        TEXT    NOT NULL,              -- create, update, delete, restore
    kind      TEXT    NOT NULL,              -- context, relationship, memory, session
    id        TEXT    NOT NULL,
    user_id   TEXT    NOT NULL DEFAULT '',
    version   INTEGER NOT NULL DEFAULT 0,
    state     TEXT                           -- JSON; NULL for a delete
);
-- History of one object, in order.
CREATE INDEX changes_object ON changes (tenant, kind, id, seq);
