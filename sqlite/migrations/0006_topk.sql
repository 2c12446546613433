-- The top-k search index (issue 3, see topk.go): immutable per-tenant
-- segments of posting lists, built in the background from the FTS5 index,
-- and the rows written since, which search reads from FTS5.
--
-- topk_segments: one row per partition that has (or is building) a segment.
-- A search uses the segment of generation gen, which holds every context of
-- the partition with pk <= watermark as it was when the segment was built.
-- pending is the watermark of the build in progress (>= watermark): a write
-- that changes or removes a row with pk <= pending records it in topk_dirty.
CREATE TABLE topk_segments (
    part      INTEGER PRIMARY KEY,          -- tenant_partitions.num
    gen       INTEGER NOT NULL DEFAULT 0,   -- 0: no segment yet
    watermark INTEGER NOT NULL DEFAULT 0,   -- pk of the newest row it holds
    pending   INTEGER NOT NULL DEFAULT 0,
    docs      INTEGER NOT NULL DEFAULT 0,   -- rows it holds
    tokens    INTEGER NOT NULL DEFAULT 0,   -- their tokens, title and content
    built_at  INTEGER NOT NULL DEFAULT 0    -- unix nanoseconds
);

-- The posting lists of a segment, one row per term (as the stemmed FTS5
-- index has it): its document frequency and the encoded list (topk.go).
CREATE TABLE topk_postings (
    part     INTEGER NOT NULL,
    gen      INTEGER NOT NULL,
    term     TEXT    NOT NULL,
    df       INTEGER NOT NULL,
    postings BLOB    NOT NULL,
    PRIMARY KEY (part, gen, term)
) WITHOUT ROWID;

-- Rows of a segment changed or deleted after it was built (or while it was
-- being built), written in the transaction of the change: search skips them
-- in the segment and reads them from FTS5. n orders the records, so that a
-- new segment clears only those its snapshot saw.
CREATE TABLE topk_dirty (
    pk INTEGER PRIMARY KEY,
    n  INTEGER NOT NULL
);
CREATE INDEX topk_dirty_n ON topk_dirty (n);
