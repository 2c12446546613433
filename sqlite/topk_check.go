package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/contextd/contextd"
)

// checkTopK checks the top-k index's segments against the rows (one read
// snapshot): every row a segment was built from is still a row, unless it
// is recorded as changed (rows: a segment's rows now, plus its deleted ones,
// make its count); and, with full, that every posting list decodes, is in
// order, inside its partition and up to its watermark, with its document
// frequency. A store without segments has no items.
func (s *Store) checkTopK(ctx context.Context, c *conn, full bool) ([]contextd.CheckItem, error) {
	rowsIt := contextd.CheckItem{Name: "top-k index rows", OK: true}
	listsIt := contextd.CheckItem{Name: "top-k index postings", OK: true}
	var segs []segment
	rows, err := c.QueryContext(ctx, `SELECT part, gen, watermark, docs, tokens FROM topk_segments WHERE gen > 0`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var g segment
		if err := rows.Scan(&g.part, &g.gen, &g.watermark, &g.docs, &g.tokens); err != nil {
			rows.Close()
			return nil, err
		}
		segs = append(segs, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		return nil, nil // no segment: nothing to report
	}
	var bad, badLists []string
	for _, g := range segs {
		lo := g.part << pkBits
		var now, gone int64
		if err := c.QueryRowContext(ctx, `SELECT count(*) FROM contexts WHERE pk BETWEEN ? AND ?`, lo, g.watermark).Scan(&now); err != nil {
			return nil, err
		}
		if err := c.QueryRowContext(ctx, `SELECT count(*) FROM topk_dirty d WHERE d.pk BETWEEN ? AND ?
			AND NOT EXISTS (SELECT 1 FROM contexts c WHERE c.pk = d.pk)`, lo, g.watermark).Scan(&gone); err != nil {
			return nil, err
		}
		rowsIt.Rows += now
		rowsIt.Indexed += g.docs
		if now+gone != g.docs {
			bad = append(bad, fmt.Sprintf("partition %d: the segment holds %d rows, the table %d of them (%d deleted since)", g.part, g.docs, now, gone))
		}
		if !full {
			continue
		}
		lists, err := c.QueryContext(ctx, `SELECT term, df, postings FROM topk_postings WHERE part = ? AND gen = ?`, g.part, g.gen)
		if err != nil {
			return nil, err
		}
		for lists.Next() {
			var (
				term string
				df   int64
				blob []byte
			)
			if err := lists.Scan(&term, &df, &blob); err != nil {
				lists.Close()
				return nil, err
			}
			p, err := decodePostings(blob, lo, g.avgdl())
			switch {
			case err != nil:
				badLists = append(badLists, fmt.Sprintf("partition %d, term %q: %v", g.part, term, err))
			case p.df != df || df > g.docs:
				badLists = append(badLists, fmt.Sprintf("partition %d, term %q: %d rows, df %d", g.part, term, p.df, df))
			case len(p.pks) > 0 && p.pks[len(p.pks)-1] > g.watermark:
				badLists = append(badLists, fmt.Sprintf("partition %d, term %q: a row past the watermark", g.part, term))
			}
			if len(badLists) >= maxCheckMessages {
				break
			}
		}
		lists.Close()
		if err := lists.Err(); err != nil {
			return nil, err
		}
	}
	rowsIt.OK, rowsIt.Detail = len(bad) == 0, strings.Join(bad, "; ")
	out := []contextd.CheckItem{rowsIt}
	colsIt, err := s.checkColumns(ctx, c, segs)
	if err != nil {
		return nil, err
	}
	out = append(out, colsIt)
	if full {
		listsIt.OK, listsIt.Detail = len(badLists) == 0, strings.Join(badLists, "; ")
		out = append(out, listsIt)
	}
	return out, nil
}

// checkColumns compares the filter columns searches hold in memory
// (topk_columns.go) with the rows: every row of a segment not changed since
// its build must have in them the type, status, user, session, creation
// time, tags and metadata it has in the table (they are read again from it
// on this snapshot, row by row).
func (s *Store) checkColumns(ctx context.Context, c *conn, segs []segment) (contextd.CheckItem, error) {
	it := contextd.CheckItem{Name: "top-k index filter columns", OK: true}
	if s.topk == nil {
		return it, nil
	}
	var bad []string
	for _, g := range segs {
		held := s.topk.cache.getCols(colKey{g.part, g.gen})
		if held == nil || held.tooBig {
			continue // not in memory: searches will read them from this table
		}
		now, err := loadColumns(ctx, c, g)
		if err != nil {
			return it, err
		}
		dirty, err := dirtyRows(ctx, c, g.part<<pkBits, g.watermark)
		if err != nil {
			return it, err
		}
		for i := range now.flags {
			pk := now.lo + int64(i)
			if now.flags[i]&colPresent == 0 || dirty[pk] {
				continue
			}
			it.Rows++
			if held.flags[i]&colPresent == 0 {
				bad = append(bad, fmt.Sprintf("row %d: not in the columns", pk))
			} else if a, b := held.row(i), now.row(i); !a.equal(b) {
				bad = append(bad, fmt.Sprintf("row %d: the columns hold %+v, the row %+v", pk, a, b))
			} else {
				it.Indexed++
			}
			if len(bad) >= maxCheckMessages {
				break
			}
		}
	}
	it.OK, it.Detail = len(bad) == 0, strings.Join(bad, "; ")
	return it, nil
}

// RebuildSearchIndex rebuilds the top-k index segment of every partition
// that has one or is large enough for one, now, one after another (what
// `contextd reindex` runs). It returns the partitions rebuilt.
func (s *Store) RebuildSearchIndex(ctx context.Context) (int, error) {
	if s.topk == nil {
		return 0, nil
	}
	var parts []int64
	err := s.read(ctx, "rebuild search index", func(tx *conn) error {
		rows, err := tx.QueryContext(ctx, `SELECT num FROM tenant_partitions WHERE next_context > ?
			UNION SELECT part FROM topk_segments ORDER BY 1`, s.topk.minDocs)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var p int64
			if err := rows.Scan(&p); err != nil {
				return err
			}
			parts = append(parts, p)
		}
		return rows.Err()
	})
	if err != nil {
		return 0, err
	}
	for _, p := range parts {
		if err := s.buildTopK(ctx, p); err != nil {
			return 0, s.fail(ctx, "rebuild search index", err)
		}
	}
	return len(parts), nil
}
