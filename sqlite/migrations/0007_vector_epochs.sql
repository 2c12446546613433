-- When each kind of row (context, memory) was first created with a vector:
-- from then on an embedder was on, so a row created later without a vector
-- is an integrity failure (contextd check), while rows created before are
-- only waiting for `contextd reindex`. Written by the create paths
-- (INSERT OR IGNORE keeps the first); a store that already had vectors
-- starts its epoch at the next row created with one.
CREATE TABLE vector_epochs (
    kind  TEXT    PRIMARY KEY, -- 'context' or 'memory'
    since INTEGER NOT NULL     -- unix nanoseconds UTC
) WITHOUT ROWID;
