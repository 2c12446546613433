-- Row keys partitioned by tenant (issue 3: search cost follows the tenant's
-- size, not the store's).
--
-- Every tenant gets a number, and the rows of contexts and memories get
-- pk = num << 40 | seq, so that a tenant's rows are one contiguous pk range.
-- The full-text indexes use pk as their rowid, and FTS5 seeks a MATCH to a
-- rowid range: a search reads and ranks only the caller's tenant's part of
-- the index, and counts its matches without joining the table.

-- next_context and next_memory are the next free seq of each table: a key is
-- never used twice, even after its row was deleted.
CREATE TABLE tenant_partitions (
    name         TEXT    PRIMARY KEY,
    num          INTEGER NOT NULL UNIQUE CHECK (num BETWEEN 1 AND 8388607), -- 2^23 - 1: num << 40 stays positive
    next_context INTEGER NOT NULL DEFAULT 1,
    next_memory  INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;

INSERT INTO tenant_partitions (name, num)
    SELECT tenant, row_number() OVER (ORDER BY tenant)
    FROM (SELECT tenant FROM contexts UNION SELECT tenant FROM memories);

-- Move the existing rows into their tenant's range, keeping their order. The
-- tag rows follow their row at commit (deferred foreign-key checks).
PRAGMA defer_foreign_keys = ON;

UPDATE contexts SET pk = (SELECT num FROM tenant_partitions WHERE name = contexts.tenant) * 1099511627776 + pk;
UPDATE context_tags SET context_pk = (SELECT num FROM tenant_partitions WHERE name = context_tags.tenant) * 1099511627776 + context_pk;
UPDATE memories SET pk = (SELECT num FROM tenant_partitions WHERE name = memories.tenant) * 1099511627776 + pk;
UPDATE memory_tags SET memory_pk = (SELECT num FROM tenant_partitions WHERE name = memory_tags.tenant) * 1099511627776 + memory_pk;

UPDATE tenant_partitions SET
    next_context = coalesce((SELECT max(pk) FROM contexts WHERE pk BETWEEN num * 1099511627776 AND num * 1099511627776 + 1099511627775), num * 1099511627776) - num * 1099511627776 + 1,
    next_memory = coalesce((SELECT max(pk) FROM memories WHERE pk BETWEEN num * 1099511627776 AND num * 1099511627776 + 1099511627775), num * 1099511627776) - num * 1099511627776 + 1;

-- Full-text index shards. BM25 counts each query word's documents over the
-- whole index it searches (FTS5's bm25() reads every posting of every query
-- word once per query, whatever rowid range the query is seeked to): with one
-- index for all tenants, every search paid for the whole store. The rows are
-- now spread over 16 index shards by their tenant's partition number
-- (shard = num % 16, see partition.go): a search reads one shard, and ranks
-- with the word statistics of its shard's tenants.
--
-- A shard's tables are made with the first partition that uses it (the
-- store does that in Go, in the same transaction, see ensureShard), each an
-- external-content index over a view of its rows, so that FTS5's own
-- 'rebuild' and 'integrity-check' see exactly the rows it holds. The store
-- also makes, and fills, the shards of the partitions above when it opens.

DROP TABLE contexts_fts;
DROP TABLE contexts_raw;
DROP TABLE memories_fts;
DROP TABLE memories_raw;
