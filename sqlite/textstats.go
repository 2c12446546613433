package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/contextd/contextd"
)

// Per-tenant full-text statistics (migrations 0010 and 0014): the number of
// a partition's contexts and their tokens (title and content), and of its
// memories and their tokens, which BM25 needs (N and the average length) to
// score a tenant's matches over the tenant alone (search_tenant.go).
//
// Every change to a full-text index goes through insertIndexes or
// unindexContext / unindexMemory, in a write job: each adds the row's length
// (read from the stemmed index's _docsize row, which FTS5 writes with the
// row) to the job's pending deltas on the writer's conn, and the job writes
// them to tenant_partitions once when it succeeds (write, writer.go), or
// drops them when it fails: the counts move in the same transaction as the
// index, and a job that rolls back leaves them as they were.

// textKey names one set of counts: a partition's, of one table's index.
type textKey struct {
	part  int64
	table string // contextIndex.table or memoryIndex.table
}

// textDelta is what a job changed in one set of counts.
type textDelta struct{ docs, tokens int64 }

// textStats is a set of counts, as search reads them.
type textStats struct{ docs, tokens int64 }

// avgdl is the average length of the tenant's rows, as FTS5 computes it
// (tokens / rows), with the guards of an empty tenant.
func (t textStats) avgdl() float64 {
	if t.docs <= 0 || t.tokens <= 0 {
		return 1
	}
	return float64(t.tokens) / float64(t.docs)
}

// statColumns returns the columns of tenant_partitions holding the counts
// of ix's table.
func statColumns(ix ftsIndex) (docs, tokens string) {
	if ix.table == memoryIndex.table {
		return "mem_docs", "mem_tokens"
	}
	return "ctx_docs", "ctx_tokens"
}

// textIndexes are the indexes whose counts the store keeps.
var textIndexes = []ftsIndex{contextIndex, memoryIndex}

// rowLength returns the length in tokens of row pk in the stemmed index of
// ix at its shard, as FTS5 recorded it (0 when it holds no such row).
func rowLength(ctx context.Context, tx *conn, ix ftsIndex, pk int64) (int64, error) {
	var sz []byte
	err := tx.QueryRowContext(ctx, `SELECT sz FROM `+ftsName(ix.stem, shardOf(pk))+`_docsize WHERE id = ?`, pk).Scan(&sz)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := docSize(sz)
	if err != nil {
		return 0, fmt.Errorf("row %d: %w", pk, err)
	}
	return n, nil
}

// countText records that the row pk of ix's table was added to (sign 1) or
// removed from (sign -1) its full-text index: it must be called after the
// row is indexed, or before it is removed, so that its _docsize row is there.
func countText(ctx context.Context, tx *conn, ix ftsIndex, pk int64, sign int64) error {
	n, err := rowLength(ctx, tx, ix, pk)
	if err != nil {
		return err
	}
	if tx.textDeltas == nil {
		tx.textDeltas = map[textKey]textDelta{}
	}
	k := textKey{pk >> pkBits, ix.table}
	d := tx.textDeltas[k]
	d.docs += sign
	d.tokens += sign * n
	tx.textDeltas[k] = d
	return nil
}

// withTextStats wraps a write job: the counts it changed are written when it
// succeeds, dropped when it fails.
func withTextStats(fn func(c *conn) error) func(c *conn) error {
	return func(c *conn) error {
		clear(c.textDeltas)
		err := fn(c)
		if err == nil {
			err = flushTextStats(context.Background(), c)
		}
		clear(c.textDeltas)
		return err
	}
}

// flushTextStats adds the pending deltas to tenant_partitions. A partition
// not counted yet (NULL, see migrations 0010 and 0014) stays so: the count at
// open reads the index itself.
func flushTextStats(ctx context.Context, c *conn) error {
	for k, d := range c.textDeltas {
		if d == (textDelta{}) {
			continue
		}
		docs, tokens := statColumns(textIndexOf(k.table))
		if _, err := c.ExecContext(ctx, `UPDATE tenant_partitions SET `+docs+` = `+docs+` + ?, `+tokens+` = `+tokens+` + ? WHERE num = ?`,
			d.docs, d.tokens, k.part); err != nil {
			return fmt.Errorf("tenant text statistics: %w", err)
		}
	}
	return nil
}

// textIndexOf returns the index of table.
func textIndexOf(table string) ftsIndex {
	if table == memoryIndex.table {
		return memoryIndex
	}
	return contextIndex
}

// partitionText counts partition part's rows and tokens in ix from the
// stemmed index's _docsize rows of its range.
func partitionText(ctx context.Context, tx *conn, ix ftsIndex, part int64) (textStats, error) {
	r := rangeOf(part)
	rows, err := tx.QueryContext(ctx, `SELECT sz FROM `+ftsName(ix.stem, int(part%indexShards))+`_docsize WHERE id BETWEEN ? AND ?`, r.lo, r.hi)
	if err != nil {
		return textStats{}, err
	}
	defer rows.Close()
	var t textStats
	for rows.Next() {
		var sz []byte
		if err := rows.Scan(&sz); err != nil {
			return textStats{}, err
		}
		n, err := docSize(sz)
		if err != nil {
			return textStats{}, fmt.Errorf("partition %d: %w", part, err)
		}
		t.docs++
		t.tokens += n
	}
	return t, rows.Err()
}

// countTextStats counts, from the indexes, the partitions not counted yet
// (those of a store made before migration 0010 or 0014), once, when the
// store opens; with all, every partition again (`contextd reindex`). One
// write transaction.
func (s *Store) countTextStats(ctx context.Context, all bool) error {
	return s.write(ctx, "tenant text statistics", func(tx *conn) error {
		for _, ix := range textIndexes {
			docs, tokens := statColumns(ix)
			q := `SELECT num FROM tenant_partitions WHERE ` + docs + ` IS NULL OR ` + tokens + ` IS NULL`
			if all {
				q = `SELECT num FROM tenant_partitions`
			}
			parts, err := queryInt64s(ctx, tx, q)
			if err != nil {
				return err
			}
			for _, p := range parts {
				if err := storeText(ctx, tx, ix, p); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// storeText counts partition part's rows of ix and writes the counts.
func storeText(ctx context.Context, tx *conn, ix ftsIndex, part int64) error {
	t, err := partitionText(ctx, tx, ix, part)
	if err != nil {
		return err
	}
	docs, tokens := statColumns(ix)
	_, err = tx.ExecContext(ctx, `UPDATE tenant_partitions SET `+docs+` = ?, `+tokens+` = ? WHERE num = ?`, t.docs, t.tokens, part)
	return err
}

// tenantText returns the counts of ix in the partition of range r (zero for
// a tenant that never wrote), counting them from the index if the store has
// not yet.
func tenantText(ctx context.Context, tx *conn, ix ftsIndex, r pkRange) (textStats, error) {
	if r.lo > r.hi {
		return textStats{}, nil
	}
	part := r.lo >> pkBits
	var docs, tokens sql.NullInt64
	dc, tc := statColumns(ix)
	err := tx.QueryRowContext(ctx, `SELECT `+dc+`, `+tc+` FROM tenant_partitions WHERE num = ?`, part).Scan(&docs, &tokens)
	if errors.Is(err, sql.ErrNoRows) {
		return textStats{}, nil
	}
	if err != nil {
		return textStats{}, err
	}
	if !docs.Valid || !tokens.Valid {
		return partitionText(ctx, tx, ix, part)
	}
	return textStats{docs.Int64, tokens.Int64}, nil
}

// checkTextStats compares every partition's stored counts with its indexes
// (`contextd check`): a difference makes its tenants' BM25 scores drift from
// FTS5's; `contextd reindex` counts them again (countTextStats). A
// partition not counted yet is counted when the store opens, so it passes.
// Rows and Indexed are the contexts and memories in the indexes and in the
// counts.
func checkTextStats(ctx context.Context, c *conn) (contextd.CheckItem, error) {
	it := contextd.CheckItem{Name: "tenant text statistics", OK: true}
	var bad []string
	for _, ix := range textIndexes {
		type stored struct {
			part         int64
			docs, tokens sql.NullInt64
		}
		var parts []stored
		dc, tc := statColumns(ix)
		rows, err := c.QueryContext(ctx, `SELECT num, `+dc+`, `+tc+` FROM tenant_partitions ORDER BY num`)
		if err != nil {
			return it, err
		}
		for rows.Next() {
			var p stored
			if err := rows.Scan(&p.part, &p.docs, &p.tokens); err != nil {
				rows.Close()
				return it, err
			}
			parts = append(parts, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return it, err
		}
		for _, p := range parts {
			if !p.docs.Valid || !p.tokens.Valid {
				continue
			}
			t, err := partitionText(ctx, c, ix, p.part)
			if err != nil {
				return it, err
			}
			it.Rows += t.docs
			it.Indexed += p.docs.Int64
			if t.docs != p.docs.Int64 || t.tokens != p.tokens.Int64 {
				it.OK = false
				if len(bad) < maxCheckMessages {
					bad = append(bad, fmt.Sprintf("partition %d: %d %s and %d tokens recorded, %d and %d in the index (run contextd reindex)",
						p.part, p.docs.Int64, ix.table, p.tokens.Int64, t.docs, t.tokens))
				}
			}
		}
	}
	it.Detail = strings.Join(bad, "; ")
	return it, nil
}
