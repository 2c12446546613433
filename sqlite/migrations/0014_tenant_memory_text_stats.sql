-- Full-text statistics per tenant for memories (see 0010 for contexts):
-- memory search scores a tenant's matches with BM25 over the tenant's own
-- memories, never over an index shard shared with other tenants.
--
-- mem_docs: the partition's memories; mem_tokens: their tokens, as FTS5
-- counts them. New partitions start at 0; the partitions of an existing store
-- are NULL here ("not counted yet") and counted by the store when it opens.
ALTER TABLE tenant_partitions ADD COLUMN mem_docs INTEGER DEFAULT 0;
ALTER TABLE tenant_partitions ADD COLUMN mem_tokens INTEGER DEFAULT 0;
UPDATE tenant_partitions SET mem_docs = NULL, mem_tokens = NULL;
