package sqlite

import (
	"context"

	"github.com/contextd/contextd"
)

// Full-text ranking over the tenant alone (issue 3).
//
// A tenant's rows share their index shard with other tenants (partition.go).
// FTS5's bm25() counts each query phrase's rows over the whole shard, so a
// small tenant's scores moved with other tenants' words, and bm25() read
// every posting of every query phrase in the shard to count them, whatever
// the tenant's size: most of a search's CPU in a store of many small
// tenants. The top-k index (topk.go) already ranked large tenants over
// their own statistics; this ranks every FTS5 search the same way:
//
//   - One MATCH per index (stemmed for words and phrases, raw for prefixes),
//     seeked to the tenant's rowid range, calls contextd_hits (fts_hits.go)
//     on each match: its weighted hits per phrase and its length, from what
//     FTS5 holds for the match. Every match is visited (the total is exact).
//   - Each phrase's document frequency is the number of the tenant's
//     matches holding it: exactly its rows in the tenant, since every row
//     holding a phrase of an OR query matches. N and the average length are
//     the tenant's counts (textstats.go).
//   - The score is FTS5's BM25 formula (bm25IDF, bm25TF: k1 1.2, b 0.75,
//     title 4, content 1) over those statistics, phrases added in query
//     order, the stemmed index's part before the raw one's, as the FTS5 path
//     added its two bm25() values: a tenant's scores are what FTS5's bm25()
//     gives over a store holding that tenant alone.
//   - Excluded terms (-word) leave their rows out after the statistics are
//     taken (they count in N and df, as in bm25()); filters test the best
//     matches' rows, more of them while too few pass (topkPage), and the
//     total counts the matches that pass.
//
// Facets and the total of a filtered search count the matches in SQL, as
// before: they need no score.

// tenantMatches returns every match of the positive terms of fq among the
// tenant's rows of index (contextIndex or memoryIndex), scored over the
// tenant's statistics, without the rows the excluded terms match.
func tenantMatches(ctx context.Context, tx *conn, index ftsIndex, fq ftsQuery) ([]match, error) {
	st, err := tenantText(ctx, tx, index, fq.r)
	if err != nil {
		return nil, err
	}
	ix := index.at(fq.r)
	var (
		out  []match
		seen map[int64]int // pk -> index in out, when two indexes are read
	)
	both := fq.stem != "" && fq.raw != ""
	for _, q := range []struct{ tbl, match string }{{ix.stem, fq.stem}, {ix.raw, fq.raw}} {
		if q.match == "" {
			continue
		}
		ms, err := scoredMatches(ctx, tx, q.tbl, ix.weights, q.match, fq.r, st)
		if err != nil {
			return nil, err
		}
		if !both {
			out = ms
			break
		}
		if seen == nil {
			seen = make(map[int64]int, len(ms))
			out = make([]match, 0, len(ms))
		}
		for _, m := range ms {
			if i, ok := seen[m.pk]; ok {
				out[i].score += m.score
				continue
			}
			seen[m.pk] = len(out)
			out = append(out, m)
		}
	}
	if fq.negStem == "" && fq.negRaw == "" {
		return out, nil
	}
	drop := map[int64]bool{}
	for _, q := range []struct{ tbl, match string }{{ix.stem, fq.negStem}, {ix.raw, fq.negRaw}} {
		if q.match == "" {
			continue
		}
		pks, err := queryInt64s(ctx, tx, `SELECT rowid FROM `+q.tbl+` WHERE `+q.tbl+` MATCH ? AND rowid BETWEEN ? AND ?`, q.match, fq.r.lo, fq.r.hi)
		if err != nil {
			return nil, err
		}
		for _, pk := range pks {
			drop[pk] = true
		}
	}
	kept := out[:0]
	for _, m := range out {
		if !drop[m.pk] {
			kept = append(kept, m)
		}
	}
	return kept, nil
}

// scoredMatches runs one MATCH over the index tbl (columns weighing
// weights) in the tenant's range r and scores each match with BM25 over the
// tenant's statistics st.
func scoredMatches(ctx context.Context, tx *conn, tbl string, weights []uint32, expr string, r pkRange, st textStats) ([]match, error) {
	id, h := newHitSet(weights)
	defer releaseHitSet(id)
	// The function records every match (hitSet) and returns 1: the
	// statement returns no row, and none travels through the driver. (An
	// auxiliary function cannot be an aggregate's argument.)
	rows, err := tx.QueryContext(ctx, `SELECT 1 FROM `+tbl+` WHERE `+tbl+` MATCH ? AND rowid BETWEEN ? AND ? AND `+hitsFunc+`(`+tbl+`, ?) = 0`,
		expr, r.lo, r.hi, id)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if h.err != nil {
		return nil, h.err
	}
	return h.score(st), nil
}

// score turns the recorded matches into scored matches: df per phrase from
// the matches, N and the average length from st.
func (h *hitSet) score(st textStats) []match {
	k := h.phrases
	docs := max(st.docs, int64(len(h.pks))) // the counts may not lag behind the index
	df := make([]int64, k)
	for i := range h.pks {
		for p := range k {
			if h.w[i*k+p] > 0 {
				df[p]++
			}
		}
	}
	idf := make([]float64, k)
	for p := range k {
		idf[p] = bm25IDF(docs, df[p])
	}
	avgdl := st.avgdl()
	out := make([]match, len(h.pks))
	for i, pk := range h.pks {
		var score float64
		d := float64(h.lens[i])
		for p := range k {
			// bm25()'s own order of operations (bm25TF is its term
			// part): the very numbers it gives over the tenant alone.
			score += idf[p] * bm25TF(float64(h.w[i*k+p]), d, avgdl)
		}
		out[i] = match{pk, score}
	}
	return out
}

// tenantPage ranks the tenant's matches of fq (tenantMatches) and returns
// the page and the total. Without filters (tenantOnly), the best matches
// and their ties are loaded whole and sorted (score, newest, id), and
// loaded holds them for the caller; with filters, topkPage tests the best
// matches' rows and counts those that pass.
func tenantPage(ctx context.Context, tx *conn, fq ftsQuery, f *sqlBuilder, tenantOnly bool, offset, limit int) (page []hit, total int, loaded map[int64]*contextd.Context, err error) {
	all, err := tenantMatches(ctx, tx, contextIndex, fq)
	if err != nil {
		return nil, 0, nil, err
	}
	if !tenantOnly {
		page, total, err = topkPage(ctx, tx, all, f, false, offset, limit)
		return page, total, nil, err
	}
	need := offset + limit
	if offset >= len(all) {
		return []hit{}, len(all), nil, nil
	}
	best, _ := bestMatches(all, need)
	pks := make([]int64, len(best))
	for i, m := range best {
		pks[i] = m.pk
	}
	if loaded, err = contextsByPK(ctx, tx, pks); err != nil {
		return nil, 0, nil, err
	}
	hits := make([]hit, 0, len(best))
	for _, m := range best {
		if c := loaded[m.pk]; c != nil {
			hits = append(hits, hit{pk: m.pk, score: -m.score, createdAt: c.CreatedAt.UnixNano(), id: c.ID})
		}
	}
	sortHits(hits) // raw order: lowest first
	page = hits[min(offset, len(hits)):min(need, len(hits))]
	for i := range page {
		page[i].score = -page[i].score
	}
	return page, len(all), loaded, nil
}
