-- Tail segments of the top-k search index (see topk_tail.go). Besides its
-- base segment (topk_segments.gen, rows up to topk_segments.watermark), a
-- partition may hold a few small immutable tail segments, each covering the
-- rows with pk in [lo, watermark] as they were when it was built; their
-- ranges are disjoint, ascending and contiguous from the base's watermark.
-- Their posting lists are rows of topk_postings under their own generation.
--
-- next_gen: the last generation handed out in the partition (base or tail),
-- so that a generation number is never used twice (the posting cache keys
-- lists by it). An existing store's base segment stays valid as it is.
ALTER TABLE topk_segments ADD COLUMN next_gen INTEGER NOT NULL DEFAULT 0;
UPDATE topk_segments SET next_gen = gen;

CREATE TABLE topk_tails (
    part      INTEGER NOT NULL,          -- tenant_partitions.num
    gen       INTEGER NOT NULL,          -- its posting lists' generation
    lo        INTEGER NOT NULL,          -- pk of the first row it may hold
    watermark INTEGER NOT NULL,          -- pk of the last row it may hold
    docs      INTEGER NOT NULL,          -- rows it holds
    tokens    INTEGER NOT NULL,          -- their tokens, title and content
    built_at  INTEGER NOT NULL,          -- unix nanoseconds
    PRIMARY KEY (part, lo)
) WITHOUT ROWID;
