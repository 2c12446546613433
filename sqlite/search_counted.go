package sqlite

import (
	"context"

	"github.com/contextd/contextd"
)

// tieMargin is how many matches past the page countedPage ranks, so that
// rows tied with the page's last one are usually among them.
const tieMargin = 16

// countedPage is topPage for a search whose only condition is the tenant
// (its rowid range already applies it) and that excludes nothing. One
// statement over the index alone ranks the matches, counts them (a window
// over the same pass, so the total needs no second MATCH) and returns the
// best offset+limit+16; no row is joined. The rows of the page, and of any
// group of rows tied in score across its edges, are then loaded whole (the
// caller needs them anyway: loaded) and sorted like topPage's: score,
// newest, id. The page is exact when the ranked rows hold every match or
// when its last row ranks strictly better than every row left out;
// otherwise exact is false and the caller ranks every match (the total
// stays known).
func countedPage(ctx context.Context, tx *conn, fq ftsQuery, offset, limit int) (page []hit, loaded map[int64]*contextd.Context, total int, exact bool, err error) {
	need := offset + limit
	k := need + tieMargin
	src, args := contextIndex.at(fq.r).source(fq, true)
	rows, err := tx.QueryContext(ctx, `SELECT pk, b, count(*) OVER () FROM (`+src+`) ORDER BY b LIMIT ?`, append(args, k)...)
	if err != nil {
		return nil, nil, -1, false, err
	}
	var ranked []hit
	for rows.Next() {
		var h hit
		if err := rows.Scan(&h.pk, &h.score, &total); err != nil {
			rows.Close()
			return nil, nil, -1, false, err
		}
		ranked = append(ranked, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, -1, false, err
	}
	// ranked is in score order (ties in any order). As in topPage, the k
	// best settle the page when they are every match, or when the page's
	// last row ranks strictly better than every row left out (which all
	// score at least the k-th).
	if total > k && (len(ranked) < need || ranked[need-1].score >= ranked[len(ranked)-1].score) {
		return nil, nil, total, false, nil
	}
	if offset >= len(ranked) {
		return []hit{}, map[int64]*contextd.Context{}, total, true, nil
	}
	// The rows whose order decides the page: those of the page, widened to
	// whole groups of equal score at both edges.
	lo, hi := offset, min(need, len(ranked))
	for lo > 0 && ranked[lo-1].score == ranked[lo].score {
		lo--
	}
	for hi < len(ranked) && ranked[hi].score == ranked[hi-1].score {
		hi++
	}
	cand := ranked[lo:hi]
	pks := make([]int64, len(cand))
	for i, h := range cand {
		pks[i] = h.pk
	}
	if loaded, err = contextsByPK(ctx, tx, pks); err != nil {
		return nil, nil, -1, false, err
	}
	kept := cand[:0]
	for _, h := range cand {
		if c := loaded[h.pk]; c != nil {
			h.createdAt, h.id = c.CreatedAt.UnixNano(), c.ID
			kept = append(kept, h)
		}
	}
	sortHits(kept)
	page = kept[min(offset-lo, len(kept)):min(need-lo, len(kept))]
	for i := range page {
		page[i].score = -page[i].score
	}
	return page, loaded, total, true, nil
}
