package sqlite

import (
	"container/heap"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/contextd/contextd"
)

// The top-k search index (issue 3). FTS5's bm25() scores every match of a
// query, 5-7 us each (a _docsize seek per match among them), so a search in
// a tenant of 100,000 contexts cost ~20 ms of CPU. This index answers the
// common query — plain words, no exclusions, no facets — at a few
// nanoseconds per match, from posting lists of our own:
//
//   - A segment per tenant partition (topk_segments, topk_postings) holds,
//     for every term of the stemmed FTS5 index, the tenant's rows containing
//     it with each row's BM25 term weight (title hits × 4 + content hits) and
//     length. It is immutable: built in the background from the FTS5 index
//     on a read snapshot (topk_build.go), written under a new generation and
//     switched to in one small write transaction.
//   - It covers the rows with pk <= its watermark as they were when it was
//     built. Rows changed or deleted since are recorded in topk_dirty in the
//     transaction of the change (see markDirty), and rows added since have pk
//     above the watermark: both are read from FTS5, which stays current, and
//     scored with the same formula (the hits per column come from FTS5's
//     highlight(), the length from its _docsize table). So a search sees
//     exactly the committed rows, like the FTS5 path.
//   - Rows added since are taken in by small tail segments (topk_tail.go),
//     built from the new rows alone, each covering the pk range above the
//     one before: a term's postings over the base and its tails are their
//     lists one after the other, in pk order.
//   - Scores are FTS5's BM25 (k1 1.2, b 0.75, title 4, content 1) over the
//     tenant's own statistics (rows, average length and each term's row count
//     in the segments), where FTS5 counts them over its shard, which may hold
//     other tenants: no signal crosses tenants. The statistics are the sums
//     over the partition's segments (base and tails: rows, tokens, and each
//     term's row count) as each was when it was built, until the next build;
//     with no change to rows a segment holds, they are exactly those a whole
//     rebuild would count.
//   - Every match is visited (the total is exact), but a visit is a merge
//     step over decoded lists held in a bounded cache, not a b-tree seek.
//
// Queries it does not serve (phrases, prefixes, exclusions, facets, tenants
// below the size threshold or without a segment yet) take the FTS5 path.

// BM25 as FTS5's bm25() computes it.
const (
	bm25K1        = 1.2
	bm25B         = 0.75
	titleWeight   = 4
	contentWeight = 1
)

// bm25IDF is FTS5's inverse document frequency of a term in n rows of which
// df hold it.
func bm25IDF(n, df int64) float64 {
	idf := math.Log((float64(n) - float64(df) + 0.5) / (float64(df) + 0.5))
	if idf <= 0 {
		idf = 1e-6
	}
	return idf
}

// bm25TF is FTS5's term part of BM25: w the weighted hits, d the row's
// length in tokens, avgdl the average length.
func bm25TF(w, d, avgdl float64) float64 {
	return (w * (bm25K1 + 1.0)) / (w + bm25K1*(1-bm25B+bm25B*d/avgdl))
}

// segment is a segment of the index a search uses: the base (a row of
// topk_segments) or a tail (a row of topk_tails). It holds the rows with pk
// in [lo, watermark]; its lists are encoded from the partition's first pk.
type segment struct {
	part, gen, watermark int64
	lo                   int64
	docs, tokens         int64
}

func (g segment) avgdl() float64 { return float64(g.tokens) / float64(g.docs) }

// postingList is one term's decoded postings in a segment: the rows in pk
// order and each one's BM25 term part (bm25TF with the segment's average).
// The check decodes lists whole; searches iterate the encoded ones.
type postingList struct {
	df  int64
	pks []int64
	tf  []float64
}

// encodedList is a term's posting list as stored, after its count: what the
// cache holds (about 4 bytes a posting), decoded while a search merges it.
type encodedList struct {
	df   int64
	data []byte
}

func (p *encodedList) bytes() int64 { return int64(len(p.data)) + 96 }

// postingIter walks the encodedLists of a term in the segments of a view,
// one after the other (their pk ranges ascend): pk and tf are the current
// row's.
type postingIter struct {
	data  []byte
	left  int64
	avgdl float64
	pk    int64
	tf    float64
	done  bool
	lo    int64          // where every list's deltas start
	more  []*encodedList // the lists after the current one
}

func newPostingIter(lists []*encodedList, lo int64, avgdl float64) (postingIter, error) {
	it := postingIter{avgdl: avgdl, pk: lo, lo: lo, more: lists}
	return it, it.next()
}

// next moves to the next row, or sets done.
func (it *postingIter) next() error {
	for it.left == 0 {
		if len(it.more) == 0 {
			it.done = true
			return nil
		}
		if len(it.data) != 0 {
			return errBadPostings // a list longer than its count
		}
		l := it.more[0]
		it.more = it.more[1:]
		it.data, it.left, it.pk = l.data, l.df, it.lo
	}
	var v [3]uint64
	for j := range v {
		x, k := binary.Uvarint(it.data)
		if k <= 0 {
			return errBadPostings
		}
		v[j], it.data = x, it.data[k:]
	}
	if v[0] == 0 {
		return errBadPostings
	}
	it.left--
	it.pk += int64(v[0])
	it.tf = bm25TF(float64(v[1]), float64(v[2]), it.avgdl)
	return nil
}

// encodePostings writes a posting list of a segment whose rows start at lo:
// uvarint count, then per row the uvarint pk delta (from lo, then from the
// row before), weighted hits and length.
func encodePostings(buf []byte, lo int64, pks []int64, w, d []uint32) []byte {
	buf = binary.AppendUvarint(buf[:0], uint64(len(pks)))
	prev := lo
	for i, pk := range pks {
		buf = binary.AppendUvarint(buf, uint64(pk-prev))
		buf = binary.AppendUvarint(buf, uint64(w[i]))
		buf = binary.AppendUvarint(buf, uint64(d[i]))
		prev = pk
	}
	return buf
}

var errBadPostings = errors.New("malformed posting list")

// decodePostings reads a whole posting list of a segment whose rows start
// at lo, and checks it ends where its count says.
func decodePostings(b []byte, lo int64, avgdl float64) (*postingList, error) {
	l, err := splitPostings(b)
	if err != nil {
		return nil, err
	}
	p := &postingList{df: l.df, pks: make([]int64, 0, l.df), tf: make([]float64, 0, l.df)}
	it, err := newPostingIter([]*encodedList{l}, lo, avgdl)
	for ; err == nil && !it.done; err = it.next() {
		p.pks = append(p.pks, it.pk)
		p.tf = append(p.tf, it.tf)
	}
	if err != nil {
		return nil, err
	}
	if len(it.data) != 0 {
		return nil, errBadPostings
	}
	return p, nil
}

// splitPostings reads the count of a stored posting list.
func splitPostings(b []byte) (*encodedList, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errBadPostings
	}
	return &encodedList{df: int64(n), data: b[k:]}, nil
}

// postingKey names a posting list: lists never change once written, so a
// cached one is good for as long as its generation is read.
type postingKey struct {
	part, gen int64
	term      string
}

// postingCache holds decoded posting lists, and the filter columns of
// segments (topk_columns.go), up to a budget of bytes; past it, arbitrary
// posting lists, then columns, are dropped until it is 3/4 full.
type postingCache struct {
	mu     sync.Mutex
	m      map[postingKey]*encodedList
	cols   map[colKey]*docColumns
	live   map[int64]map[int64]bool // partition -> the generations of its view, once a build set them
	size   int64
	budget int64
}

// setLive records the generations of a partition's view (after a build
// switched it) and drops the columns of its other generations: no new
// search reads them.
func (c *postingCache) setLive(part int64, gens []int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	live := map[int64]bool{}
	for _, g := range gens {
		live[g] = true
	}
	if c.live == nil {
		c.live = map[int64]map[int64]bool{}
	}
	c.live[part] = live
	for key, old := range c.cols {
		if key.part == part && !live[key.gen] {
			delete(c.cols, key)
			c.size -= old.bytes()
		}
	}
}

func maxGen(live map[int64]bool) int64 {
	var m int64
	for g := range live {
		m = max(m, g)
	}
	return m
}

func (c *postingCache) get(k postingKey) *encodedList {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

func (c *postingCache) put(k postingKey, p *encodedList) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[k]; old != nil {
		c.size -= old.bytes()
	}
	c.m[k] = p
	c.size += p.bytes()
	c.evict(colKey{-1, -1})
}

// evict drops entries while the cache is over its budget: posting lists
// first, then columns other than keep's.
func (c *postingCache) evict(keep colKey) {
	if c.size <= c.budget {
		return
	}
	for key, v := range c.m {
		if c.size <= c.budget*3/4 {
			return
		}
		delete(c.m, key)
		c.size -= v.bytes()
	}
	for key, v := range c.cols {
		if c.size <= c.budget*3/4 {
			return
		}
		if key != keep {
			delete(c.cols, key)
			c.size -= v.bytes()
		}
	}
}

func (c *postingCache) getCols(k colKey) *docColumns {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cols[k]
}

// putCols adds a generation's columns, unless a newer view of the
// partition no longer has it (a search on an older snapshot read them).
func (c *postingCache) putCols(k colKey, v *docColumns) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if live := c.live[k.part]; live != nil && !live[k.gen] && k.gen < maxGen(live) {
		return
	}
	if old := c.cols[k]; old != nil {
		c.size -= old.bytes()
	}
	c.cols[k] = v
	c.size += v.bytes()
	c.evict(k)
}

// topkState is the store's top-k index: its settings, tokenizer, cache and
// background builder.
type topkState struct {
	minDocs int64 // tenants with fewer contexts keep the FTS5 path
	tok     *tokenizer
	cache   postingCache
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	whole   sync.Mutex // one whole build at a time (the builder, reindex, tests)
	tail    sync.Mutex // one tail build at a time
	mu      sync.Mutex // a build's start and switch, and what follows
	last    map[int64]buildRecord
	lastNew map[int64]buildRecord // each partition's last tail over new rows (topkRound)
	pendP   map[int64]int64       // partition -> pending watermark of its whole build under way
	running map[int64]bool        // partitions whose whole build the builder started
	flying  map[int64]int         // generations being built (not to be dropped) -> builds
	wg      sync.WaitGroup        // whole builds the builder started
	off     atomic.Bool           // searches take the FTS5 path (benchmarks compare)
	served  atomic.Int64          // searches answered from the index
	colsOff atomic.Bool           // filtered searches seek rows (benchmarks compare)
	colsHit atomic.Int64          // filtered searches answered with the columns
	ftsTail atomic.Bool           // tail builds tokenize every row with FTS5 (tests and benchmarks compare)
	colMu   sync.Mutex            // loading
	loading map[colKey]*colEntry
	hook    func(step string) error // tests: a build stops with its error at a step
}

// at runs the test hook at a build's step: "start" (the pending watermark
// and generation committed), "postings" (a batch of lists committed),
// "chunk" (a whole build between two read snapshots), "switch" (the new
// view committed, old generations not yet dropped).
func (st *topkState) at(step string) error {
	if st.hook == nil {
		return nil
	}
	return st.hook(step)
}

// topkWords returns the words of a query the index serves: positive single
// words only. ok is false for anything else.
func topkWords(parsed contextd.Query) (words []string, ok bool) {
	if len(parsed.Negative()) > 0 {
		return nil, false
	}
	pos := parsed.Positive()
	if len(pos) == 0 {
		return nil, false
	}
	for _, t := range pos {
		if t.Phrase || t.Prefix || len(t.Words) != 1 {
			return nil, false
		}
		words = append(words, t.Words[0])
	}
	return words, true
}

// loadSegment returns the partition's current segment, if it has one.
func loadSegment(ctx context.Context, tx *conn, part int64) (segment, bool, error) {
	g := segment{part: part, lo: part << pkBits}
	err := tx.QueryRowContext(ctx, `SELECT gen, watermark, docs, tokens FROM topk_segments WHERE part = ? AND gen > 0`, part).
		Scan(&g.gen, &g.watermark, &g.docs, &g.tokens)
	if errors.Is(err, sql.ErrNoRows) {
		return g, false, nil
	}
	return g, err == nil && g.docs > 0, err
}

// postings returns a term's posting list in segment g (empty: not in it).
func (s *Store) postings(ctx context.Context, tx *conn, g segment, term string) (*encodedList, error) {
	key := postingKey{g.part, g.gen, term}
	if p := s.topk.cache.get(key); p != nil {
		return p, nil
	}
	var blob []byte
	err := tx.QueryRowContext(ctx, `SELECT postings FROM topk_postings WHERE part = ? AND gen = ? AND term = ?`, g.part, g.gen, term).Scan(&blob)
	if errors.Is(err, sql.ErrNoRows) {
		p := &encodedList{}
		s.topk.cache.put(key, p)
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	p, err := splitPostings(blob)
	if err != nil {
		return nil, fmt.Errorf("top-k index: partition %d, term %q: %w", g.part, term, err)
	}
	s.topk.cache.put(key, p)
	return p, nil
}

// match is one matching row and its score (higher is better).
type match struct {
	pk    int64
	score float64
}

// topkSearch answers a search from the top-k index when it can: ok is false
// when the FTS5 path must answer (see topkWords, and no segment). The page
// and total are the FTS5 path's, scored as described above.
//
// With filters (tenantOnly false), the segment's matches are tested against
// its filter columns in the merge (topk_columns.go), and only the rows the
// columns cannot decide (changed or new since the build, or metadata only
// SQL compares) are tested by their rows: every match left passes, so the
// total is their number. Without the columns, every candidate's row is.
func (s *Store) topkSearch(ctx context.Context, tx *conn, r pkRange, words []string, f *sqlBuilder, tenantOnly bool,
	filters contextd.SearchFilters, scopeUser string, offset, limit int) (page []hit, total int, ok bool, err error) {
	if s.topk == nil || s.topk.off.Load() || r.lo > r.hi {
		return nil, 0, false, nil
	}
	v, ok, err := loadView(ctx, tx, r.lo>>pkBits)
	if err != nil || !ok {
		return nil, 0, false, err
	}
	terms := make([]string, len(words))
	for i, w := range words {
		toks, err := s.topk.tok.tokens(ctx, w)
		if err != nil {
			return nil, 0, false, err
		}
		if len(toks) != 1 {
			return nil, 0, false, nil // a phrase to FTS5: its path
		}
		terms[i] = toks[0]
	}
	// The filters compiled for each segment's columns; none when a segment
	// has none (the rows are tested then).
	var cfs []*colFilter
	if !tenantOnly && !s.topk.colsOff.Load() {
		for _, g := range v.segs {
			cols, err := s.columns(ctx, tx, g)
			if err != nil {
				return nil, 0, false, err
			}
			var cf *colFilter
			if cols != nil {
				cf, _ = compileFilter(cols, filters, scopeUser)
			}
			if cf == nil {
				cfs = nil
				break
			}
			cfs = append(cfs, cf)
		}
	}
	all, byRow, err := s.topkMatches(ctx, tx, r, v, words, terms, cfs)
	if err != nil {
		return nil, 0, false, err
	}
	if cfs != nil {
		passed, err := filterMatches(ctx, tx, byRow, f)
		if err != nil {
			return nil, 0, false, err
		}
		for _, h := range passed {
			all = append(all, match{h.pk, h.score})
		}
		tenantOnly = true // every match left passes the filters
		s.topk.colsHit.Add(1)
	}
	page, total, err = topkPage(ctx, tx, all, f, tenantOnly, offset, limit)
	if err != nil {
		return nil, 0, false, err
	}
	s.topk.served.Add(1)
	return page, total, true, nil
}

// topkMatches returns every match of the words (whose index terms are terms)
// among the tenant's rows, scored: the rows of the view's segments not
// changed since they were built, merged with the rows FTS5 holds past its
// watermark or changed. With cfs (one per segment), the segments' rows that
// fail them are left out, and the matches only their rows can decide (those
// of FTS5 among them) are byRow, not in all.
func (s *Store) topkMatches(ctx context.Context, tx *conn, r pkRange, v *topkView, words, terms []string, cfs []*colFilter) (all, byRow []match, err error) {
	dirty, err := dirtyRows(ctx, tx, r.lo, v.watermark)
	if err != nil {
		return nil, nil, err
	}
	n := len(terms)
	lists := make([][]*encodedList, n)
	idf := make([]float64, n)
	size := 0
	for i, t := range terms {
		var df int64
		for _, g := range v.segs {
			l, err := s.postings(ctx, tx, g, t)
			if err != nil {
				return nil, nil, err
			}
			if l.df > 0 {
				lists[i] = append(lists[i], l)
				df += l.df
			}
		}
		size += int(df)
		idf[i] = bm25IDF(v.docs, df)
	}
	fresh, err := freshMatches(ctx, tx, r, v, words, idf, dirty)
	if err != nil {
		return nil, nil, err
	}
	// Merge the lists in pk order; a row's score adds its terms in query
	// order, as bm25() adds its phrases.
	size += len(fresh)
	its := make([]postingIter, n)
	for i, l := range lists {
		if its[i], err = newPostingIter(l, r.lo, v.avgdl()); err != nil {
			return nil, nil, fmt.Errorf("top-k index: partition %d, term %q: %w", v.part, terms[i], err)
		}
	}
	seg := 0 // the segment of the current row (rows ascend)
	out := make([]match, 0, size)
	for {
		next := int64(math.MaxInt64)
		for i := range its {
			if !its[i].done && its[i].pk < next {
				next = its[i].pk
			}
		}
		if next == math.MaxInt64 {
			break
		}
		var score float64
		for i := range its {
			if !its[i].done && its[i].pk == next {
				score += idf[i] * its[i].tf
				if err := its[i].next(); err != nil {
					return nil, nil, fmt.Errorf("top-k index: partition %d, term %q: %w", v.part, terms[i], err)
				}
			}
		}
		switch {
		case dirty[next]:
		case cfs == nil:
			out = append(out, match{next, score})
		default:
			for seg < len(cfs)-1 && next > v.segs[seg].watermark {
				seg++
			}
			cf := cfs[seg]
			if next < cf.c.lo || next > v.segs[seg].watermark {
				return nil, nil, fmt.Errorf("top-k index: partition %d: row %d outside its segments", v.part, next)
			}
			pass, rowTest := cf.test(int(next - cf.c.lo))
			if pass {
				out = append(out, match{next, score})
			} else if rowTest {
				byRow = append(byRow, match{next, score})
			}
		}
	}
	if cfs != nil {
		return out, append(byRow, fresh...), nil
	}
	return append(out, fresh...), nil, nil
}

// dirtyRows returns the rows of the segment (pk in [lo, watermark]) changed
// or deleted since it was built.
func dirtyRows(ctx context.Context, tx *conn, lo, watermark int64) (map[int64]bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT pk FROM topk_dirty WHERE pk BETWEEN ? AND ?`, lo, watermark)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var pk int64
		if err := rows.Scan(&pk); err != nil {
			return nil, err
		}
		out[pk] = true
	}
	return out, rows.Err()
}

// hitMark marks a hit in highlight() output: one byte, so that the bytes
// highlight() adds to a column are its hits.
const hitMark = "\x01"

// freshMatches scores the rows FTS5 holds that the segments do not: pk
// above the view's watermark, or dirty. Per word, FTS5 finds them (a MATCH
// seeked to the rows); a row's hits per column are the marks highlight()
// adds, its length comes from the _docsize table; the statistics are the
// view's.
func freshMatches(ctx context.Context, tx *conn, r pkRange, g *topkView, words []string, idf []float64, dirty map[int64]bool) ([]match, error) {
	stem := contextIndex.at(r).stem
	avgdl := g.avgdl()
	base := `SELECT rowid, length(CAST(highlight(` + stem + `, 0, ?1, '') AS BLOB)) - length(CAST(title AS BLOB)),
		length(CAST(highlight(` + stem + `, 1, ?1, '') AS BLOB)) - length(CAST(content AS BLOB)),
		(SELECT sz FROM ` + stem + `_docsize WHERE id = ` + stem + `.rowid)
		FROM ` + stem + ` WHERE ` + stem + ` MATCH ?2 AND `
	byRange := base + `rowid BETWEEN ?3 AND ?4`
	// The dirty rows: one MATCH over their span, the list tested after it
	// (the unary + keeps the IN from FTS5, which would run a MATCH, each
	// opening every FTS5 segment of the term, per listed row).
	byList := base + `rowid BETWEEN ?4 AND ?5 AND +rowid IN (SELECT value FROM json_each(?3))`
	var (
		dl       string
		dlo, dhi int64
	)
	if len(dirty) > 0 {
		pks := make([]int64, 0, len(dirty))
		dlo, dhi = int64(math.MaxInt64), int64(math.MinInt64)
		for pk := range dirty {
			pks = append(pks, pk)
			dlo, dhi = min(dlo, pk), max(dhi, pk)
		}
		dl = idList(pks)
	}
	// Most searches find no row past the watermark: one b-tree seek says so,
	// and saves a MATCH per word (each opens every FTS5 segment of the term).
	var newer bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM contexts WHERE pk BETWEEN ? AND ?)`, g.watermark+1, r.hi).Scan(&newer); err != nil {
		return nil, err
	}
	scores := map[int64]float64{}
	var order []int64
	for i, w := range words {
		match := ftsTerm(contextd.Term{Words: []string{w}})
		var queries [][]any
		if newer {
			queries = append(queries, []any{byRange, hitMark, match, g.watermark + 1, r.hi})
		}
		if dl != "" {
			queries = append(queries, []any{byList, hitMark, match, dl, dlo, dhi})
		}
		for _, q := range queries {
			if err := func() error {
				rows, err := tx.QueryContext(ctx, q[0].(string), q[1:]...)
				if err != nil {
					return err
				}
				defer rows.Close()
				for rows.Next() {
					var (
						pk             int64
						inTitle, inCon int64
						sz             []byte
					)
					if err := rows.Scan(&pk, &inTitle, &inCon, &sz); err != nil {
						return err
					}
					d, err := docSize(sz)
					if err != nil {
						return fmt.Errorf("top-k index: row %d: %w", pk, err)
					}
					w := float64(titleWeight*inTitle + contentWeight*inCon)
					if _, seen := scores[pk]; !seen {
						order = append(order, pk)
					}
					scores[pk] += idf[i] * bm25TF(w, float64(d), avgdl)
				}
				return rows.Err()
			}(); err != nil {
				return nil, err
			}
		}
	}
	out := make([]match, len(order))
	for i, pk := range order {
		out[i] = match{pk, scores[pk]}
	}
	return out, nil
}

// eachDocSize reads the rows of a query on an FTS5 _docsize table (id, sz),
// closes them, and calls fn with each row's pk and length in tokens.
func eachDocSize(rows *sql.Rows, err error, fn func(pk, tokens int64)) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			pk int64
			sz []byte
		)
		if err := rows.Scan(&pk, &sz); err != nil {
			return err
		}
		d, err := docSize(sz)
		if err != nil {
			return fmt.Errorf("row %d: %w", pk, err)
		}
		fn(pk, d)
	}
	return rows.Err()
}

// docSize reads an FTS5 _docsize blob (a varint per column) and returns the
// row's length in tokens over all columns.
func docSize(b []byte) (int64, error) {
	var total int64
	for len(b) > 0 {
		v, n := sqliteVarint(b)
		if n == 0 {
			return 0, errors.New("malformed _docsize record")
		}
		total += int64(v)
		b = b[n:]
	}
	return total, nil
}

// sqliteVarint decodes SQLite's big-endian varint (FTS5 writes its sizes so):
// seven bits a byte while the high bit is set, the ninth byte whole.
func sqliteVarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 9; i++ {
		if i == 8 {
			return v<<8 | uint64(b[i]), 9
		}
		v = v<<7 | uint64(b[i]&0x7f)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// matchHeap is a min-heap of matches by score: the best m seen so far.
type matchHeap []match

func (h matchHeap) Len() int           { return len(h) }
func (h matchHeap) Less(i, j int) bool { return h[i].score < h[j].score }
func (h matchHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *matchHeap) Push(x any)        { *h = append(*h, x.(match)) }
func (h *matchHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// bestMatches returns the matches scoring at least the m-th best score (so
// ties at the cut are all in), and whether that is every match.
func bestMatches(all []match, m int) ([]match, bool) {
	if m >= len(all) {
		return all, true
	}
	h := make(matchHeap, 0, m)
	for _, x := range all {
		if len(h) < m {
			heap.Push(&h, x)
		} else if x.score > h[0].score {
			h[0] = x
			heap.Fix(&h, 0)
		}
	}
	cut := h[0].score
	var out []match
	for _, x := range all {
		if x.score >= cut {
			out = append(out, x)
		}
	}
	return out, len(out) == len(all)
}

// topkPage turns the scored matches into the page: the best ones are joined
// to their rows and filtered, more of them while too few pass, and sorted as
// the FTS5 path sorts (score, then newest, then id). total counts the
// matches that pass.
func topkPage(ctx context.Context, tx *conn, all []match, f *sqlBuilder, tenantOnly bool, offset, limit int) ([]hit, int, error) {
	need := offset + limit
	checked := map[int64]bool{}
	var passed []hit
	// Without filters every match passes: the best need (and their ties)
	// settle the page. With filters, twice that and more, as topPage does.
	m := need
	if !tenantOnly {
		m = 2*need + 64
	}
	for ; ; m *= 4 {
		best, every := bestMatches(all, m)
		var todo []match
		for _, x := range best {
			if !checked[x.pk] {
				todo = append(todo, x)
			}
		}
		p, err := filterMatches(ctx, tx, todo, f)
		if err != nil {
			return nil, 0, err
		}
		for _, x := range todo {
			checked[x.pk] = true
		}
		passed = append(passed, p...)
		if len(passed) >= need || every {
			sort.Slice(passed, func(i, j int) bool {
				a, b := passed[i], passed[j]
				if a.score != b.score {
					return a.score > b.score
				}
				if a.createdAt != b.createdAt {
					return a.createdAt > b.createdAt
				}
				return a.id > b.id
			})
			total := len(all)
			switch {
			case every:
				total = len(passed)
			case !tenantOnly:
				if total, err = countPassing(ctx, tx, all, f); err != nil {
					return nil, 0, err
				}
			}
			page := passed[min(offset, len(passed)):min(need, len(passed))]
			return page, total, nil
		}
	}
}

// filterMatches returns the matches whose rows pass the filters f (the
// tenant's wall among them), with their creation time and id.
func filterMatches(ctx context.Context, tx *conn, ms []match, f *sqlBuilder) ([]hit, error) {
	if len(ms) == 0 {
		return nil, nil
	}
	score := make(map[int64]float64, len(ms))
	pks := make([]int64, len(ms))
	for i, x := range ms {
		score[x.pk], pks[i] = x.score, x.pk
	}
	// The list drives (CROSS JOIN): a row seek per match, not the tenant's
	// rows by the tenant index.
	rows, err := tx.QueryContext(ctx, `SELECT c.pk, c.created_at, c.id FROM json_each(?) AS j
		CROSS JOIN contexts c ON c.pk = j.value WHERE `+f.where(), append([]any{idList(pks)}, f.args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []hit
	for rows.Next() {
		var h hit
		if err := rows.Scan(&h.pk, &h.createdAt, &h.id); err != nil {
			return nil, err
		}
		h.score = score[h.pk]
		out = append(out, h)
	}
	return out, rows.Err()
}

// countPassing counts the matches whose rows pass the filters f.
func countPassing(ctx context.Context, tx *conn, all []match, f *sqlBuilder) (int, error) {
	pks := make([]int64, len(all))
	for i, x := range all {
		pks[i] = x.pk
	}
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM json_each(?) AS j CROSS JOIN contexts c ON c.pk = j.value WHERE `+f.where(),
		append([]any{idList(pks)}, f.args...)...).Scan(&n)
	return n, err
}

// markDirty records, in the transaction of a change, that the row pk is
// changed or removed while a segment holds it (or a build in progress will):
// searches then read it from FTS5 until the next segment. A new row (pk
// above every watermark) writes nothing. The checks are reads first: a
// statement that may write several rows opens a savepoint, and FTS5 flushes
// its pending terms at every savepoint, which would cost a segment per row.
func markDirty(ctx context.Context, tx *conn, pk int64) error {
	var d dirtyMarks
	return d.mark(ctx, tx, pk)
}

// dirtyMark returns the number of the change log's newest change, kept by
// AUTOINCREMENT in sqlite_sequence: a number that never goes back, not
// even when changes are pruned. A build takes it as the mark of its read
// snapshot, and its switch clears the records numbered at or below it; a
// change records its rows with the mark it sees plus one.
//
//   - Every change that marks rows logs itself after it (an update or a
//     delete of a context), so its records' number is at most its log
//     entry's: a build whose snapshot holds the change clears them.
//   - A change committed after a build's snapshot sees at least that
//     snapshot's mark, so its records are numbered above it: that build's
//     switch keeps them.
//
// The records' own max(n) + 1 would not do: a tail's switch clearing the
// newest records lowers it, and a change made during a whole build could
// then take a number at or below the build's mark and be cleared by its
// switch, though its snapshot never saw the change (the segment would keep
// the row's old postings). A counter of its own would cost a write per
// change; this one is written with the change log anyway.
func dirtyMark(ctx context.Context, tx *conn) (int64, error) {
	var n int64
	err := tx.QueryRowContext(ctx, `SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)`).Scan(&n)
	return n, err
}

// topkTermsOf is used in tests and the check: the words of s as the index
// terms FTS5 makes of them.
func (s *Store) topkTermsOf(ctx context.Context, text string) ([]string, error) {
	if s.topk == nil {
		return nil, errors.New("the top-k index is off")
	}
	return s.topk.tok.tokens(ctx, strings.TrimSpace(text))
}
