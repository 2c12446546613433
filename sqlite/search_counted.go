package sqlite

import (
	"context"
	"math"
)

// tieMargin is how many matches past the page countedPage reads, so that
// rows tied with the page's last one are usually read with it.
const tieMargin = 16

// countedPage is topPage for a search whose only condition is the tenant
// (its rowid range already applies it) and that excludes nothing: one
// statement ranks the matches, counts them (a window over the same pass, so
// the total needs no second MATCH) and joins only the best offset+limit+16
// to their rows (topPage joins 2(offset+limit)+64, as filters may drop
// some). The page is the same as topPage's: the k best by BM25, sorted by
// score, newest, id; it is exact when k holds every match or when the page's
// last row ranks strictly better than every row left out. Otherwise
// exact is false and the caller ranks every match (total stays known).
func countedPage(ctx context.Context, tx *conn, fq ftsQuery, offset, limit int) (page []hit, total int, exact bool, err error) {
	need := offset + limit
	k := need + tieMargin
	src, args := contextIndex.at(fq.r).source(fq, true)
	rows, err := tx.QueryContext(ctx, `SELECT fm.pk, fm.b, fm.n, c.created_at, c.id
		FROM (SELECT pk, b, count(*) OVER () AS n FROM (`+src+`) ORDER BY b LIMIT ?) AS fm
		CROSS JOIN contexts c ON c.pk = fm.pk`, append(args, k)...)
	if err != nil {
		return nil, -1, false, err
	}
	defer rows.Close()
	var (
		passed []hit
		worst  = math.Inf(-1)
	)
	total = 0
	for rows.Next() {
		var h hit
		if err := rows.Scan(&h.pk, &h.score, &total, &h.createdAt, &h.id); err != nil {
			return nil, -1, false, err
		}
		worst = max(worst, h.score)
		passed = append(passed, h)
	}
	if err := rows.Err(); err != nil {
		return nil, -1, false, err
	}
	sortHits(passed)
	// As in topPage: the k best settle the page when they are every match,
	// or when the page's last row ranks strictly better than every row left
	// out (which all score at least worst).
	if total > k && (len(passed) < need || passed[need-1].score >= worst) {
		return nil, total, false, nil
	}
	page = passed[min(offset, len(passed)):min(need, len(passed))]
	for i := range page {
		page[i].score = -page[i].score
	}
	return page, total, true, nil
}
