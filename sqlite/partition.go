package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Row keys of contexts and memories are partitioned by tenant (migration
// 0002): pk = num<<pkBits | seq, where num is the tenant's number in
// tenant_partitions. A tenant's rows are one contiguous pk range, which is
// also their rowid range in the full-text indexes, so a search seeks to the
// caller's tenant and never reads another's postings.
const (
	pkBits = 40 // 2^40 rows per tenant and table
	pkMask = 1<<pkBits - 1
	// maxPartition keeps num<<pkBits a positive int64.
	maxPartition = 1<<(63-pkBits) - 1
)

// pkRange is the inclusive pk range of one tenant's rows.
type pkRange struct{ lo, hi int64 }

// rangeOf returns the pk range of partition num.
func rangeOf(num int64) pkRange { return pkRange{num << pkBits, num<<pkBits | pkMask} }

// emptyRange holds no pk: the range of a tenant that has never written.
var emptyRange = pkRange{1, 0}

// pkAllocator hands out the row keys of one tenant in one table (contexts or
// memories) within one write transaction. The tenant's partition number is
// assigned on its first write; the next free seq is kept in
// tenant_partitions, so a key is never used twice, even after its row was
// deleted. Both are written in the write transaction, so a write that rolls
// back keeps neither.
type pkAllocator struct {
	table, tenant string
	col           string // next_context or next_memory
	loaded        bool
	num, next     int64
}

func newAllocator(table, tenant string) *pkAllocator {
	col := "next_context"
	if table == "memories" {
		col = "next_memory"
	}
	return &pkAllocator{table: table, tenant: tenant, col: col}
}

// newPK returns the next free pk of the tenant in the table.
func (a *pkAllocator) newPK(ctx context.Context, tx *conn) (int64, error) {
	return a.newPKs(ctx, tx, 1)
}

// newPKs reserves the next n free pks of the tenant in the table, with one
// update of tenant_partitions, and returns the first: the others follow it.
func (a *pkAllocator) newPKs(ctx context.Context, tx *conn, n int64) (int64, error) {
	if !a.loaded {
		err := tx.QueryRowContext(ctx, `SELECT num, `+a.col+` FROM tenant_partitions WHERE name = ?`, a.tenant).Scan(&a.num, &a.next)
		if errors.Is(err, sql.ErrNoRows) {
			if err = tx.QueryRowContext(ctx, `SELECT coalesce(max(num), 0) + 1 FROM tenant_partitions`).Scan(&a.num); err != nil {
				return 0, err
			}
			if a.num > maxPartition {
				return 0, fmt.Errorf("sqlite: more than %d tenants", maxPartition)
			}
			a.next = 1
			_, err = tx.ExecContext(ctx, `INSERT INTO tenant_partitions (name, num) VALUES (?, ?)`, a.tenant, a.num)
			if err == nil {
				err = ensureShard(ctx, tx, int(a.num%indexShards))
			}
		}
		if err != nil {
			return 0, err
		}
		a.loaded = true
	}
	if a.next+n-1 > pkMask {
		return 0, fmt.Errorf("sqlite: tenant %q has no free row key left in %s", a.tenant, a.table)
	}
	pk := a.num<<pkBits | a.next
	a.next += n
	if _, err := tx.ExecContext(ctx, `UPDATE tenant_partitions SET `+a.col+` = ? WHERE name = ?`, a.next, a.tenant); err != nil {
		return 0, err
	}
	return pk, nil
}

// tenantRange returns the pk range of the tenant's rows for a read: its
// partition's, or emptyRange when the tenant has never written. Numbers never
// change once assigned, so they are cached; an absent one is looked up again.
func (s *Store) tenantRange(ctx context.Context, c *conn, tenant string) (pkRange, error) {
	if v, ok := s.partitions.Load(tenant); ok {
		return rangeOf(v.(int64)), nil
	}
	var num int64
	err := c.QueryRowContext(ctx, `SELECT num FROM tenant_partitions WHERE name = ?`, tenant).Scan(&num)
	if errors.Is(err, sql.ErrNoRows) {
		return emptyRange, nil
	}
	if err != nil {
		return pkRange{}, err
	}
	s.partitions.Store(tenant, num)
	return rangeOf(num), nil
}

// indexShards is the number of full-text index shards (migration 0002): the
// rows of partition num are indexed by shard num % indexShards, so a search
// reads one shard. (Its ranking uses the tenant's own statistics, not the
// shard's: search_tenant.go.)
const indexShards = 16

// shardOf returns the index shard of a row key.
func shardOf(pk int64) int { return int((pk >> pkBits) % indexShards) }

// ftsName is the name of a shard of a full-text index ("contexts_fts_3").
func ftsName(base string, shard int) string { return base + "_" + strconv.Itoa(shard) }

// shardView is the view of one shard's rows that the shard indexes.
func shardView(table string, shard int) string { return table + "_shard_" + strconv.Itoa(shard) }

// stemTokenizer is the tokenizer of the stemmed full-text indexes (*_fts).
// The top-k index's private FTS5 tables (topk_token.go, topk_tail.go) use
// it too, so that their terms are the shards' own.
const stemTokenizer = `porter unicode61 remove_diacritics 2`

// shardDDL returns the statements making shard k's views and indexes.
func shardDDL(k int) []string {
	var out []string
	for _, t := range []struct{ table, cols string }{{"contexts", "title, content"}, {"memories", "content"}} {
		view := shardView(t.table, k)
		out = append(out,
			fmt.Sprintf(`CREATE VIEW IF NOT EXISTS %s AS SELECT pk, %s FROM %s WHERE (pk >> %d) %% %d = %d`,
				view, t.cols, t.table, pkBits, indexShards, k),
			fmt.Sprintf(`CREATE VIRTUAL TABLE IF NOT EXISTS %s USING fts5 (%s, content = '%s', content_rowid = 'pk', tokenize = '%s')`,
				ftsName(t.table+"_fts", k), t.cols, view, stemTokenizer),
			fmt.Sprintf(`CREATE VIRTUAL TABLE IF NOT EXISTS %s USING fts5 (%s, content = '%s', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2')`,
				ftsName(t.table+"_raw", k), t.cols, view))
	}
	return out
}

// shardIndexes are the four full-text indexes of shard k.
func shardIndexes(k int) []string {
	return []string{ftsName("contexts_fts", k), ftsName("contexts_raw", k), ftsName("memories_fts", k), ftsName("memories_raw", k)}
}

// ensureShard makes shard k's tables when they are missing, in the write
// transaction tx, and fills them from their rows (a new shard of an existing
// store holds rows after migration 0002; a new tenant's has none yet).
func ensureShard(ctx context.Context, tx *conn, k int) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN (?, ?, ?, ?)`,
		shardIndexes(k)[0], shardIndexes(k)[1], shardIndexes(k)[2], shardIndexes(k)[3]).Scan(&n); err != nil {
		return err
	}
	if n == 4 {
		return nil
	}
	for _, stmt := range shardDDL(k) {
		// DDL runs once: not through the statement cache. Like every write of
		// the writer, it ignores cancellation (the transaction is shared).
		if _, err := tx.c.ExecContext(context.WithoutCancel(ctx), stmt); err != nil {
			return fmt.Errorf("index shard %d: %w", k, err)
		}
	}
	for _, ix := range shardIndexes(k) {
		if err := configureIndex(ctx, tx, ix); err != nil {
			return err
		}
		if _, err := tx.c.ExecContext(context.WithoutCancel(ctx), `INSERT INTO `+ix+` (`+ix+`) VALUES ('rebuild')`); err != nil {
			return fmt.Errorf("index shard %d: %w", k, err)
		}
	}
	return nil
}

// existingShards returns the index shards the store has made, in order.
func existingShards(ctx context.Context, c *conn) ([]int, error) {
	rows, err := c.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'contexts_fts_[0-9]*' AND name NOT GLOB 'contexts_fts_*_*'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		k, err := strconv.Atoi(strings.TrimPrefix(name, "contexts_fts_"))
		if err != nil {
			continue
		}
		out = append(out, k)
	}
	sort.Ints(out)
	return out, rows.Err()
}

// ensureShards makes shard 0 (searched by tenants that never wrote) and the
// shard of every partition, once the migrations have run.
func (s *Store) ensureShards(ctx context.Context) error {
	return s.write(ctx, "index shards", func(tx *conn) error {
		need := map[int]bool{0: true}
		rows, err := tx.QueryContext(ctx, `SELECT DISTINCT num % ? FROM tenant_partitions`, indexShards)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k int
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return err
			}
			need[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for k := range indexShards {
			if need[k] {
				if err := ensureShard(ctx, tx, k); err != nil {
					return err
				}
			}
		}
		// Stores made before the merge settings (ftsmerge.go) get them
		// here; rewriting them is cheap and changes nothing.
		have, err := existingShards(ctx, tx)
		if err != nil {
			return err
		}
		for _, k := range have {
			for _, ix := range shardIndexes(k) {
				if err := configureIndex(ctx, tx, ix); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
