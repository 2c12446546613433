package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/contextd/contextd"
)

// checkTopK checks the top-k index's segments (bases and tails) against the
// rows (one read snapshot): a partition's tails follow its base and each
// other without gap or overlap; every row a segment was built from is still
// a row, unless it is recorded as changed (rows: a segment's rows now, plus
// its deleted ones, make its count); no change record is numbered past the
// change log's next number (dirtyMark); and, with full, that every posting
// list decodes, is in order, inside its segment's range, with its document
// frequency, and that the filter columns held in memory agree with the
// rows (checkColumns). A store without segments has no items.
func (s *Store) checkTopK(ctx context.Context, c *conn, full bool) ([]contextd.CheckItem, error) {
	rowsIt := contextd.CheckItem{Name: "top-k index rows", OK: true}
	listsIt := contextd.CheckItem{Name: "top-k index postings", OK: true}
	var segs []segment
	rows, err := c.QueryContext(ctx, `SELECT part, gen, watermark, docs, tokens, 0, 0 FROM topk_segments WHERE gen > 0
		UNION ALL SELECT part, gen, watermark, docs, tokens, lo, 1 FROM topk_tails ORDER BY 1, 7, 6`)
	if err != nil {
		return nil, err
	}
	var bad, badLists []string
	for rows.Next() {
		var (
			g    segment
			tail bool
		)
		if err := rows.Scan(&g.part, &g.gen, &g.watermark, &g.docs, &g.tokens, &g.lo, &tail); err != nil {
			rows.Close()
			return nil, err
		}
		if !tail {
			g.lo = g.part << pkBits
		} else if n := len(segs); n == 0 || segs[n-1].part != g.part || segs[n-1].watermark+1 != g.lo || g.watermark < g.lo {
			bad = append(bad, fmt.Sprintf("partition %d: the tail [%d, %d] does not follow its base and tails", g.part, g.lo&pkMask, g.watermark&pkMask))
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
	mark, err := dirtyMark(ctx, c)
	if err != nil {
		return nil, err
	}
	var maxN int64
	if err := c.QueryRowContext(ctx, `SELECT coalesce(max(n), 0) FROM topk_dirty`).Scan(&maxN); err != nil {
		return nil, err
	}
	if maxN > mark+1 {
		bad = append(bad, fmt.Sprintf("a changed row is numbered %d, past the change log's newest change (%d) and the next", maxN, mark))
	}
	for _, g := range segs {
		lo := g.part << pkBits
		what := "segment"
		if g.lo != lo {
			what = fmt.Sprintf("tail [%d, %d]", g.lo&pkMask, g.watermark&pkMask)
		}
		var now, gone int64
		if err := c.QueryRowContext(ctx, `SELECT count(*) FROM contexts WHERE pk BETWEEN ? AND ?`, g.lo, g.watermark).Scan(&now); err != nil {
			return nil, err
		}
		if err := c.QueryRowContext(ctx, `SELECT count(*) FROM topk_dirty d WHERE d.pk BETWEEN ? AND ?
			AND NOT EXISTS (SELECT 1 FROM contexts c WHERE c.pk = d.pk)`, g.lo, g.watermark).Scan(&gone); err != nil {
			return nil, err
		}
		rowsIt.Rows += now
		rowsIt.Indexed += g.docs
		if now+gone != g.docs {
			bad = append(bad, fmt.Sprintf("partition %d: the %s holds %d rows, the table %d of them (%d deleted since)", g.part, what, g.docs, now, gone))
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
				badLists = append(badLists, fmt.Sprintf("partition %d, %s, term %q: %v", g.part, what, term, err))
			case p.df != df || df > g.docs:
				badLists = append(badLists, fmt.Sprintf("partition %d, %s, term %q: %d rows, df %d", g.part, what, term, p.df, df))
			case len(p.pks) > 0 && p.pks[len(p.pks)-1] > g.watermark:
				badLists = append(badLists, fmt.Sprintf("partition %d, %s, term %q: a row past the watermark", g.part, what, term))
			case len(p.pks) > 0 && p.pks[0] < g.lo:
				badLists = append(badLists, fmt.Sprintf("partition %d, %s, term %q: a row before the segment", g.part, what, term))
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
	if full {
		// The columns are read again from every row: a full check's cost.
		colsIt, err := s.checkColumns(ctx, c, segs)
		if err != nil {
			return nil, err
		}
		out = append(out, colsIt)
	}
	if full {
		listsIt.OK, listsIt.Detail = len(badLists) == 0, strings.Join(badLists, "; ")
		out = append(out, listsIt)
	}
	return out, nil
}

// checkColumns compares the filter columns searches use (topk_columns.go;
// read now when no search has yet) with the rows, read here another way:
// every row of a segment not changed since its build must have in them the
// type, status, user, session and creation time of its row, the tags of
// its tags column, and the top-level scalar metadata its metadata decodes
// to (encoding/json, not SQLite's json_each, which the columns are read
// with).
func (s *Store) checkColumns(ctx context.Context, c *conn, segs []segment) (contextd.CheckItem, error) {
	it := contextd.CheckItem{Name: "top-k index filter columns", OK: true}
	if s.topk == nil {
		return it, nil
	}
	var bad []string
	for _, g := range segs {
		held, err := s.columns(ctx, c, g)
		if err != nil {
			return it, err
		}
		if held == nil {
			continue // over the budget: searches test rows
		}
		dirty, err := dirtyRows(ctx, c, g.lo, g.watermark)
		if err != nil {
			return it, err
		}
		rows, err := c.QueryContext(ctx, `SELECT pk, type, status, user_id, session_id, created_at, tags, metadata
			FROM contexts WHERE pk BETWEEN ? AND ?`, held.lo, g.watermark)
		if err != nil {
			return it, err
		}
		for rows.Next() && len(bad) < maxCheckMessages {
			var (
				pk         int64
				v          colsRowValues
				tags, meta string
			)
			if err := rows.Scan(&pk, &v.typ, &v.status, &v.user, &v.session, &v.created, &tags, &meta); err != nil {
				rows.Close()
				return it, err
			}
			if dirty[pk] {
				continue
			}
			it.Rows++
			i := int(pk - held.lo)
			if held.flags[i]&colPresent == 0 {
				bad = append(bad, fmt.Sprintf("row %d: not in the columns", pk))
				continue
			}
			if err := json.Unmarshal([]byte(tags), &v.tags); err != nil {
				bad = append(bad, fmt.Sprintf("row %d: tags: %v", pk, err))
				continue
			}
			slices.Sort(v.tags)
			v.tags = slices.Compact(v.tags)
			v.meta, v.metaByRow = decodeMetaAtoms(meta)
			h := held.row(i)
			if h.metaByRow {
				v.meta, v.metaByRow = h.meta, true // SQL alone compares it: nothing to compare here
			}
			if !h.equal(v) {
				bad = append(bad, fmt.Sprintf("row %d: the columns hold %+v, the row %+v", pk, h, v))
				continue
			}
			it.Indexed++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return it, err
		}
	}
	it.OK, it.Detail = len(bad) == 0, strings.Join(bad, "; ")
	return it, nil
}

// decodeMetaAtoms returns the code names (metaAtom) of a metadata object's
// top-level scalar values, sorted, decoded with encoding/json; byRow when
// one is an integer float64 cannot hold.
func decodeMetaAtoms(text string) (names []string, byRow bool) {
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return nil, false // not an object: no key
	}
	for k, v := range m {
		switch v := v.(type) {
		case json.Number:
			if n, err := v.Int64(); err == nil {
				if n > 1<<53 || n < -(1<<53) {
					byRow = true
					continue
				}
				names = append(names, k+"\x00"+numName(float64(n)))
				continue
			}
			if strings.ContainsAny(string(v), ".eE") {
				f, err := v.Float64()
				if err == nil {
					names = append(names, k+"\x00"+numName(f))
					continue
				}
			}
			byRow = true // an integer beyond int64
		case map[string]any, []any:
		default:
			name, _ := filterAtom(k, v)
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, byRow
}

// RebuildSearchIndex counts every tenant's full-text statistics again
// (countTextStats), then rebuilds the top-k index segment of every
// partition that has one or is large enough for one, now, one after another
// (what `contextd reindex` runs). It returns the partitions rebuilt.
func (s *Store) RebuildSearchIndex(ctx context.Context) (int, error) {
	if err := s.countTextStats(ctx, true); err != nil {
		return 0, s.fail(ctx, "rebuild search index", err)
	}
	if s.topk == nil {
		return 0, nil
	}
	var parts []int64
	err := s.read(ctx, "rebuild search index", func(tx *conn) (err error) {
		parts, err = queryInt64s(ctx, tx, `SELECT num FROM tenant_partitions WHERE next_context > ?
			UNION SELECT part FROM topk_segments ORDER BY 1`, s.topk.minDocs)
		return err
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
