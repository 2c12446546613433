-- Full-text statistics per tenant (issue 3, see search_tenant.go): search
-- scores every tenant's matches with BM25 over the tenant's own rows (their
-- number and average length), never over an index shard shared with other
-- tenants. The store keeps both counts per partition, in the transaction of
-- every change to the contexts' full-text index (textstats.go).
--
-- ctx_docs: the partition's contexts; ctx_tokens: their tokens, title and
-- content, as FTS5 counts them. New partitions start at 0; the partitions of
-- an existing store are NULL here ("not counted yet") and counted by the
-- store when it opens, from the index's _docsize rows (SQL cannot read their
-- varints).
ALTER TABLE tenant_partitions ADD COLUMN ctx_docs INTEGER DEFAULT 0;
ALTER TABLE tenant_partitions ADD COLUMN ctx_tokens INTEGER DEFAULT 0;
UPDATE tenant_partitions SET ctx_docs = NULL, ctx_tokens = NULL;
