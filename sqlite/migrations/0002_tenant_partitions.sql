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

-- Full-text index shards. BM25 counts each query word's documents
-- over the whole index it searches (FTS5's bm25() reads every posting of
-- every query word once per query, whatever rowid range the query is seeked
-- to). One index for all tenants made every search pay for the whole store.
-- The rows are now spread over 16 index shards by their tenant's partition
-- number (shard = num % 16, see partition.go): a search reads one shard, and
-- ranks with the word statistics of its shard's tenants.
--
-- Each shard indexes a view of its rows (external content), so that FTS5's
-- own 'rebuild' and 'integrity-check' see exactly the rows it holds.

CREATE VIEW contexts_shard_0 AS SELECT pk, title, content FROM contexts WHERE (pk >> 40) % 16 = 0;
CREATE VIRTUAL TABLE contexts_fts_0 USING fts5 (title, content, content = 'contexts_shard_0', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE contexts_raw_0 USING fts5 (title, content, content = 'contexts_shard_0', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO contexts_fts_0 (contexts_fts_0) VALUES ('rebuild');
INSERT INTO contexts_raw_0 (contexts_raw_0) VALUES ('rebuild');
CREATE VIEW memories_shard_0 AS SELECT pk, content FROM memories WHERE (pk >> 40) % 16 = 0;
CREATE VIRTUAL TABLE memories_fts_0 USING fts5 (content, content = 'memories_shard_0', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE memories_raw_0 USING fts5 (content, content = 'memories_shard_0', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO memories_fts_0 (memories_fts_0) VALUES ('rebuild');
INSERT INTO memories_raw_0 (memories_raw_0) VALUES ('rebuild');

CREATE VIEW contexts_shard_1 AS SELECT pk, title, content FROM contexts WHERE (pk >> 40) % 16 = 1;
CREATE VIRTUAL TABLE contexts_fts_1 USING fts5 (title, content, content = 'contexts_shard_1', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE contexts_raw_1 USING fts5 (title, content, content = 'contexts_shard_1', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO contexts_fts_1 (contexts_fts_1) VALUES ('rebuild');
INSERT INTO contexts_raw_1 (contexts_raw_1) VALUES ('rebuild');
CREATE VIEW memories_shard_1 AS SELECT pk, content FROM memories WHERE (pk >> 40) % 16 = 1;
CREATE VIRTUAL TABLE memories_fts_1 USING fts5 (content, content = 'memories_shard_1', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE memories_raw_1 USING fts5 (content, content = 'memories_shard_1', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO memories_fts_1 (memories_fts_1) VALUES ('rebuild');
INSERT INTO memories_raw_1 (memories_raw_1) VALUES ('rebuild');

CREATE VIEW contexts_shard_2 AS SELECT pk, title, content FROM contexts WHERE (pk >> 40) % 16 = 2;
CREATE VIRTUAL TABLE contexts_fts_2 USING fts5 (title, content, content = 'contexts_shard_2', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE contexts_raw_2 USING fts5 (title, content, content = 'contexts_shard_2', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO contexts_fts_2 (contexts_fts_2) VALUES ('rebuild');
INSERT INTO contexts_raw_2 (contexts_raw_2) VALUES ('rebuild');
CREATE VIEW memories_shard_2 AS SELECT pk, content FROM memories WHERE (pk >> 40) % 16 = 2;
CREATE VIRTUAL TABLE memories_fts_2 USING fts5 (content, content = 'memories_shard_2', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE memories_raw_2 USING fts5 (content, content = 'memories_shard_2', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO memories_fts_2 (memories_fts_2) VALUES ('rebuild');
INSERT INTO memories_raw_2 (memories_raw_2) VALUES ('rebuild');

CREATE VIEW contexts_shard_3 AS SELECT pk, title, content FROM contexts WHERE (pk >> 40) % 16 = 3;
CREATE VIRTUAL TABLE contexts_fts_3 USING fts5 (title, content, content = 'contexts_shard_3', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE contexts_raw_3 USING fts5 (title, content, content = 'contexts_shard_3', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO contexts_fts_3 (contexts_fts_3) VALUES ('rebuild');
INSERT INTO contexts_raw_3 (contexts_raw_3) VALUES ('rebuild');
CREATE VIEW memories_shard_3 AS SELECT pk, content FROM memories WHERE (pk >> 40) % 16 = 3;
CREATE VIRTUAL TABLE memories_fts_3 USING fts5 (content, content = 'memories_shard_3', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE memories_raw_3 USING fts5 (content, content = 'memories_shard_3', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO memories_fts_3 (memories_fts_3) VALUES ('rebuild');
INSERT INTO memories_raw_3 (memories_raw_3) VALUES ('rebuild');

CREATE VIEW contexts_shard_4 AS SELECT pk, title, content FROM contexts WHERE (pk >> 40) % 16 = 4;
CREATE VIRTUAL TABLE contexts_fts_4 USING fts5 (title, content, content = 'contexts_shard_4', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE contexts_raw_4 USING fts5 (title, content, content = 'contexts_shard_4', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO contexts_fts_4 (contexts_fts_4) VALUES ('rebuild');
INSERT INTO contexts_raw_4 (contexts_raw_4) VALUES ('rebuild');
CREATE VIEW memories_shard_4 AS SELECT pk, content FROM memories WHERE (pk >> 40) % 16 = 4;
CREATE VIRTUAL TABLE memories_fts_4 USING fts5 (content, content = 'memories_shard_4', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE memories_raw_4 USING fts5 (content, content = 'memories_shard_4', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO memories_fts_4 (memories_fts_4) VALUES ('rebuild');
INSERT INTO memories_raw_4 (memories_raw_4) VALUES ('rebuild');

CREATE VIEW contexts_shard_5 AS SELECT pk, title, content FROM contexts WHERE (pk >> 40) % 16 = 5;
CREATE VIRTUAL TABLE contexts_fts_5 USING fts5 (title, content, content = 'contexts_shard_5', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE contexts_raw_5 USING fts5 (title, content, content = 'contexts_shard_5', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO contexts_fts_5 (contexts_fts_5) VALUES ('rebuild');
INSERT INTO contexts_raw_5 (contexts_raw_5) VALUES ('rebuild');
CREATE VIEW memories_shard_5 AS SELECT pk, content FROM memories WHERE (pk >> 40) % 16 = 5;
CREATE VIRTUAL TABLE memories_fts_5 USING fts5 (content, content = 'memories_shard_5', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE memories_raw_5 USING fts5 (content, content = 'memories_shard_5', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO memories_fts_5 (memories_fts_5) VALUES ('rebuild');
INSERT INTO memories_raw_5 (memories_raw_5) VALUES ('rebuild');

CREATE VIEW contexts_shard_6 AS SELECT pk, title, content FROM contexts WHERE (pk >> 40) % 16 = 6;
CREATE VIRTUAL TABLE contexts_fts_6 USING fts5 (title, content, content = 'contexts_shard_6', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE contexts_raw_6 USING fts5 (title, content, content = 'contexts_shard_6', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO contexts_fts_6 (contexts_fts_6) VALUES ('rebuild');
INSERT INTO contexts_raw_6 (contexts_raw_6) VALUES ('rebuild');
CREATE VIEW memories_shard_6 AS SELECT pk, content FROM memories WHERE (pk >> 40) % 16 = 6;
CREATE VIRTUAL TABLE memories_fts_6 USING fts5 (content, content = 'memories_shard_6', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE memories_raw_6 USING fts5 (content, content = 'memories_shard_6', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO memories_fts_6 (memories_fts_6) VALUES ('rebuild');
INSERT INTO memories_raw_6 (memories_raw_6) VALUES ('rebuild');

CREATE VIEW contexts_shard_7 AS SELECT pk, title, content FROM contexts WHERE (pk >> 40) % 16 = 7;
CREATE VIRTUAL TABLE contexts_fts_7 USING fts5 (title, content, content = 'contexts_shard_7', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE contexts_raw_7 USING fts5 (title, content, content = 'contexts_shard_7', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO contexts_fts_7 (contexts_fts_7) VALUES ('rebuild');
INSERT INTO contexts_raw_7 (contexts_raw_7) VALUES ('rebuild');
CREATE VIEW memories_shard_7 AS SELECT pk, content FROM memories WHERE (pk >> 40) % 16 = 7;
CREATE VIRTUAL TABLE memories_fts_7 USING fts5 (content, content = 'memories_shard_7', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE memories_raw_7 USING fts5 (content, content = 'memories_shard_7', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO memories_fts_7 (memories_fts_7) VALUES ('rebuild');
INSERT INTO memories_raw_7 (memories_raw_7) VALUES ('rebuild');

CREATE VIEW contexts_shard_8 AS SELECT pk, title, content FROM contexts WHERE (pk >> 40) % 16 = 8;
CREATE VIRTUAL TABLE contexts_fts_8 USING fts5 (title, content, content = 'contexts_shard_8', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE contexts_raw_8 USING fts5 (title, content, content = 'contexts_shard_8', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO contexts_fts_8 (contexts_fts_8) VALUES ('rebuild');
INSERT INTO contexts_raw_8 (contexts_raw_8) VALUES ('rebuild');
CREATE VIEW memories_shard_8 AS SELECT pk, content FROM memories WHERE (pk >> 40) % 16 = 8;
CREATE VIRTUAL TABLE memories_fts_8 USING fts5 (content, content = 'memories_shard_8', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE memories_raw_8 USING fts5 (content, content = 'memories_shard_8', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO memories_fts_8 (memories_fts_8) VALUES ('rebuild');
INSERT INTO memories_raw_8 (memories_raw_8) VALUES ('rebuild');

CREATE VIEW contexts_shard_9 AS SELECT pk, title, content FROM contexts WHERE (pk >> 40) % 16 = 9;
CREATE VIRTUAL TABLE contexts_fts_9 USING fts5 (title, content, content = 'contexts_shard_9', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE contexts_raw_9 USING fts5 (title, content, content = 'contexts_shard_9', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO contexts_fts_9 (contexts_fts_9) VALUES ('rebuild');
INSERT INTO contexts_raw_9 (contexts_raw_9) VALUES ('rebuild');
CREATE VIEW memories_shard_9 AS SELECT pk, content FROM memories WHERE (pk >> 40) % 16 = 9;
CREATE VIRTUAL TABLE memories_fts_9 USING fts5 (content, content = 'memories_shard_9', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE memories_raw_9 USING fts5 (content, content = 'memories_shard_9', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO memories_fts_9 (memories_fts_9) VALUES ('rebuild');
INSERT INTO memories_raw_9 (memories_raw_9) VALUES ('rebuild');

CREATE VIEW contexts_shard_10 AS SELECT pk, title, content FROM contexts WHERE (pk >> 40) % 16 = 10;
CREATE VIRTUAL TABLE contexts_fts_10 USING fts5 (title, content, content = 'contexts_shard_10', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE contexts_raw_10 USING fts5 (title, content, content = 'contexts_shard_10', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO contexts_fts_10 (contexts_fts_10) VALUES ('rebuild');
INSERT INTO contexts_raw_10 (contexts_raw_10) VALUES ('rebuild');
CREATE VIEW memories_shard_10 AS SELECT pk, content FROM memories WHERE (pk >> 40) % 16 = 10;
CREATE VIRTUAL TABLE memories_fts_10 USING fts5 (content, content = 'memories_shard_10', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE memories_raw_10 USING fts5 (content, content = 'memories_shard_10', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO memories_fts_10 (memories_fts_10) VALUES ('rebuild');
INSERT INTO memories_raw_10 (memories_raw_10) VALUES ('rebuild');

CREATE VIEW contexts_shard_11 AS SELECT pk, title, content FROM contexts WHERE (pk >> 40) % 16 = 11;
CREATE VIRTUAL TABLE contexts_fts_11 USING fts5 (title, content, content = 'contexts_shard_11', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE contexts_raw_11 USING fts5 (title, content, content = 'contexts_shard_11', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO contexts_fts_11 (contexts_fts_11) VALUES ('rebuild');
INSERT INTO contexts_raw_11 (contexts_raw_11) VALUES ('rebuild');
CREATE VIEW memories_shard_11 AS SELECT pk, content FROM memories WHERE (pk >> 40) % 16 = 11;
CREATE VIRTUAL TABLE memories_fts_11 USING fts5 (content, content = 'memories_shard_11', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE memories_raw_11 USING fts5 (content, content = 'memories_shard_11', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO memories_fts_11 (memories_fts_11) VALUES ('rebuild');
INSERT INTO memories_raw_11 (memories_raw_11) VALUES ('rebuild');

CREATE VIEW contexts_shard_12 AS SELECT pk, title, content FROM contexts WHERE (pk >> 40) % 16 = 12;
CREATE VIRTUAL TABLE contexts_fts_12 USING fts5 (title, content, content = 'contexts_shard_12', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE contexts_raw_12 USING fts5 (title, content, content = 'contexts_shard_12', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO contexts_fts_12 (contexts_fts_12) VALUES ('rebuild');
INSERT INTO contexts_raw_12 (contexts_raw_12) VALUES ('rebuild');
CREATE VIEW memories_shard_12 AS SELECT pk, content FROM memories WHERE (pk >> 40) % 16 = 12;
CREATE VIRTUAL TABLE memories_fts_12 USING fts5 (content, content = 'memories_shard_12', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE memories_raw_12 USING fts5 (content, content = 'memories_shard_12', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO memories_fts_12 (memories_fts_12) VALUES ('rebuild');
INSERT INTO memories_raw_12 (memories_raw_12) VALUES ('rebuild');

CREATE VIEW contexts_shard_13 AS SELECT pk, title, content FROM contexts WHERE (pk >> 40) % 16 = 13;
CREATE VIRTUAL TABLE contexts_fts_13 USING fts5 (title, content, content = 'contexts_shard_13', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE contexts_raw_13 USING fts5 (title, content, content = 'contexts_shard_13', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO contexts_fts_13 (contexts_fts_13) VALUES ('rebuild');
INSERT INTO contexts_raw_13 (contexts_raw_13) VALUES ('rebuild');
CREATE VIEW memories_shard_13 AS SELECT pk, content FROM memories WHERE (pk >> 40) % 16 = 13;
CREATE VIRTUAL TABLE memories_fts_13 USING fts5 (content, content = 'memories_shard_13', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE memories_raw_13 USING fts5 (content, content = 'memories_shard_13', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO memories_fts_13 (memories_fts_13) VALUES ('rebuild');
INSERT INTO memories_raw_13 (memories_raw_13) VALUES ('rebuild');

CREATE VIEW contexts_shard_14 AS SELECT pk, title, content FROM contexts WHERE (pk >> 40) % 16 = 14;
CREATE VIRTUAL TABLE contexts_fts_14 USING fts5 (title, content, content = 'contexts_shard_14', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE contexts_raw_14 USING fts5 (title, content, content = 'contexts_shard_14', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO contexts_fts_14 (contexts_fts_14) VALUES ('rebuild');
INSERT INTO contexts_raw_14 (contexts_raw_14) VALUES ('rebuild');
CREATE VIEW memories_shard_14 AS SELECT pk, content FROM memories WHERE (pk >> 40) % 16 = 14;
CREATE VIRTUAL TABLE memories_fts_14 USING fts5 (content, content = 'memories_shard_14', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE memories_raw_14 USING fts5 (content, content = 'memories_shard_14', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO memories_fts_14 (memories_fts_14) VALUES ('rebuild');
INSERT INTO memories_raw_14 (memories_raw_14) VALUES ('rebuild');

CREATE VIEW contexts_shard_15 AS SELECT pk, title, content FROM contexts WHERE (pk >> 40) % 16 = 15;
CREATE VIRTUAL TABLE contexts_fts_15 USING fts5 (title, content, content = 'contexts_shard_15', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE contexts_raw_15 USING fts5 (title, content, content = 'contexts_shard_15', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO contexts_fts_15 (contexts_fts_15) VALUES ('rebuild');
INSERT INTO contexts_raw_15 (contexts_raw_15) VALUES ('rebuild');
CREATE VIEW memories_shard_15 AS SELECT pk, content FROM memories WHERE (pk >> 40) % 16 = 15;
CREATE VIRTUAL TABLE memories_fts_15 USING fts5 (content, content = 'memories_shard_15', content_rowid = 'pk', tokenize = 'porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE memories_raw_15 USING fts5 (content, content = 'memories_shard_15', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO memories_fts_15 (memories_fts_15) VALUES ('rebuild');
INSERT INTO memories_raw_15 (memories_raw_15) VALUES ('rebuild');

DROP TABLE contexts_fts;
DROP TABLE contexts_raw;
DROP TABLE memories_fts;
DROP TABLE memories_raw;
