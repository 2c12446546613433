-- Embedding vectors for semantic search, one per context or memory.
--
-- A vector is kept with the model that made it: searches use only the vectors
-- of the configured model, and `contextd reindex` replaces the others. The
-- vector is int8 with a float32 scale (EncodeVector in the root package):
-- 4 + dims bytes. Rows go with their context or memory (triggers), so no
-- delete path has to remember them.
CREATE TABLE vectors (
    kind   TEXT    NOT NULL, -- 'context' or 'memory'
    row_pk INTEGER NOT NULL, -- contexts.pk or memories.pk
    model  TEXT    NOT NULL,
    vec    BLOB    NOT NULL,
    PRIMARY KEY (kind, row_pk)
) WITHOUT ROWID;
CREATE INDEX vectors_model ON vectors (kind, model, row_pk);

CREATE TRIGGER contexts_vectors_delete AFTER DELETE ON contexts BEGIN
    DELETE FROM vectors WHERE kind = 'context' AND row_pk = old.pk;
END;
CREATE TRIGGER memories_vectors_delete AFTER DELETE ON memories BEGIN
    DELETE FROM vectors WHERE kind = 'memory' AND row_pk = old.pk;
END;
