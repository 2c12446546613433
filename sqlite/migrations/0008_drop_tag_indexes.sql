-- Two indexes that no query reads, written by every create: context_tags_tag
-- and memory_tags_tag, on (tenant, tag, created_at, pk). The tag filters
-- (lists, searches, top-k filter columns) and the tags facet reach the tag
-- rows of a context or memory through its primary key (context_pk, tag)
-- from the row (EXPLAIN QUERY PLAN: "SEARCH t EXISTS USING PRIMARY KEY"),
-- and none constrains the tenant, which these indexes lead with. Each tag
-- of a new row landed on a leaf of its own in them: in a group commit of 8
-- single creates with two tags each, 11 to 16 of the transaction's ~80 WAL
-- pages. Plans are the same without them (sqlite/tagindex_test.go). A
-- binary from before this migration runs on the migrated store as well: no
-- statement of it reads them either.
DROP INDEX IF EXISTS context_tags_tag;
DROP INDEX IF EXISTS memory_tags_tag;
