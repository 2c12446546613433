-- contextd schema v1.
--
-- Conventions: every data table carries its tenant, and every lookup goes by
-- (tenant, id): ids are unique per tenant only. Times are INTEGER unix
-- nanoseconds UTC. Tags and metadata are JSON text; tags are also spread into
-- *_tags rows for filters and facets. Rows have an explicit INTEGER PRIMARY KEY
-- (pk) so that FTS5 external-content rowids stay stable across VACUUM.

CREATE TABLE tenants (
    name       TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- API keys: only the SHA-256 hash of a key is kept, never the key.
CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    tenant     TEXT NOT NULL REFERENCES tenants (name),
    hash       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    name       TEXT NOT NULL,
    user_id    TEXT NOT NULL DEFAULT '',
    prefix     TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX api_keys_tenant ON api_keys (tenant, created_at, id);
CREATE INDEX api_keys_created ON api_keys (created_at, id);

CREATE TABLE contexts (
    pk         INTEGER PRIMARY KEY,
    tenant     TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    title      TEXT    NOT NULL,
    content    TEXT    NOT NULL,
    type       TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    session_id TEXT    NOT NULL DEFAULT '', -- '' when the context has no session
    tags       TEXT    NOT NULL DEFAULT '[]',
    metadata   TEXT    NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1,
    UNIQUE (tenant, id)
);
-- One index per list filter, each ending in the keyset order (created_at, id).
CREATE INDEX contexts_created ON contexts (tenant, created_at, id);
CREATE INDEX contexts_type ON contexts (tenant, type, created_at, id);
CREATE INDEX contexts_status ON contexts (tenant, status, created_at, id);
CREATE INDEX contexts_session ON contexts (tenant, session_id, created_at, id);
CREATE INDEX contexts_user ON contexts (tenant, user_id, created_at, id);

-- The tags of a context, one row each, for tag filters and the tags facet.
CREATE TABLE context_tags (
    context_pk INTEGER NOT NULL REFERENCES contexts (pk) ON DELETE CASCADE,
    tenant     TEXT    NOT NULL,
    tag        TEXT    NOT NULL,
    created_at INTEGER NOT NULL, -- the context's, so a tag can drive a list in order
    PRIMARY KEY (context_pk, tag)
) WITHOUT ROWID;
CREATE INDEX context_tags_tag ON context_tags (tenant, tag, created_at, context_pk);

CREATE TABLE relationships (
    pk         INTEGER PRIMARY KEY,
    tenant     TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    type       TEXT    NOT NULL,
    source_id  TEXT    NOT NULL,
    target_id  TEXT    NOT NULL,
    properties TEXT    NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    UNIQUE (tenant, id),
    UNIQUE (tenant, source_id, target_id, type),
    -- Deleting a context deletes every edge touching it.
    FOREIGN KEY (tenant, source_id) REFERENCES contexts (tenant, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant, target_id) REFERENCES contexts (tenant, id) ON DELETE CASCADE
);
-- Edges by source are served by the UNIQUE (tenant, source_id, ...) index.
CREATE INDEX relationships_target ON relationships (tenant, target_id, type);

CREATE TABLE sessions (
    pk             INTEGER PRIMARY KEY,
    tenant         TEXT    NOT NULL,
    id             TEXT    NOT NULL,
    user_id        TEXT    NOT NULL,
    title          TEXT    NOT NULL DEFAULT '',
    metadata       TEXT    NOT NULL DEFAULT '{}',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    last_active_at INTEGER NOT NULL,
    UNIQUE (tenant, id)
);
CREATE INDEX sessions_created ON sessions (tenant, created_at, id);
CREATE INDEX sessions_user ON sessions (tenant, user_id, created_at, id);

CREATE TABLE memories (
    pk         INTEGER PRIMARY KEY,
    tenant     TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    type       TEXT    NOT NULL,
    content    TEXT    NOT NULL,
    importance TEXT    NOT NULL,
    importance_rank INTEGER NOT NULL, -- low 1 .. critical 4, for minImportance
    confidence REAL    NOT NULL,
    tags       TEXT    NOT NULL DEFAULT '[]',
    timestamp  INTEGER NOT NULL,
    source     TEXT    NOT NULL,
    session_id TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    metadata   TEXT    NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER, -- NULL: never expires
    version    INTEGER NOT NULL DEFAULT 1,
    UNIQUE (tenant, id)
);
CREATE INDEX memories_created ON memories (tenant, created_at, id);
CREATE INDEX memories_session ON memories (tenant, session_id, created_at, id);
CREATE INDEX memories_user ON memories (tenant, user_id, created_at, id);
CREATE INDEX memories_type ON memories (tenant, type, created_at, id);

CREATE TABLE memory_tags (
    memory_pk  INTEGER NOT NULL REFERENCES memories (pk) ON DELETE CASCADE,
    tenant     TEXT    NOT NULL,
    tag        TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (memory_pk, tag)
) WITHOUT ROWID;
CREATE INDEX memory_tags_tag ON memory_tags (tenant, tag, created_at, memory_pk);

-- Full-text indexes: external content (the text lives once, in its table),
-- over Unicode words with diacritics folded. The store writes them in the
-- same transaction as their rows (no triggers: see indexContext).
--
-- *_fts is Porter-stemmed ("replication" finds "replicate"): words and
-- phrases go there. *_raw is the same text unstemmed, for prefix terms
-- ("replicat*" must find "replication", whose stem "replic" it does not
-- start), which a stemmed index cannot answer.
CREATE VIRTUAL TABLE contexts_fts USING fts5 (
    title, content,
    content = 'contexts', content_rowid = 'pk',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE contexts_raw USING fts5 (
    title, content,
    content = 'contexts', content_rowid = 'pk',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE VIRTUAL TABLE memories_fts USING fts5 (
    content,
    content = 'memories', content_rowid = 'pk',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE memories_raw USING fts5 (
    content,
    content = 'memories', content_rowid = 'pk',
    tokenize = 'unicode61 remove_diacritics 2'
);

