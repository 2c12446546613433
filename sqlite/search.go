package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/contextd/contextd"
)

// ftsTerm writes one query term as FTS5 syntax. Every word goes inside double
// quotes (a quote doubled), so nothing a user types is read as an operator,
// a column filter or a syntax error: "word", "a phrase", "prefix"*.
func ftsTerm(t contextd.Term) string {
	s := `"` + strings.ReplaceAll(strings.Join(t.Words, " "), `"`, `""`) + `"`
	if t.Prefix {
		s += "*"
	}
	return s
}

func ftsOr(terms []contextd.Term) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = ftsTerm(t)
	}
	return strings.Join(parts, " OR ")
}

// ftsQuery is a parsed query as MATCH expressions over the two indexes of a
// table: words and phrases on the stemmed one, prefixes on the raw one.
type ftsQuery struct {
	stem, raw       string // what to look for; both empty: every row
	negStem, negRaw string // what to leave out
	// r is the caller's tenant's rowid range (see partition.go): FTS5 seeks
	// every MATCH to it, so no other tenant's postings are read or ranked.
	r pkRange
}

func newFTSQuery(pos, neg []contextd.Term) ftsQuery {
	split := func(terms []contextd.Term) (stem, raw string) {
		var s, r []contextd.Term
		for _, t := range terms {
			if t.Prefix {
				r = append(r, t)
			} else {
				s = append(s, t)
			}
		}
		return ftsOr(s), ftsOr(r)
	}
	var q ftsQuery
	q.stem, q.raw = split(pos)
	q.negStem, q.negRaw = split(neg)
	return q
}

// ranked reports whether the query looks for something (else it lists).
func (q ftsQuery) ranked() bool { return q.stem != "" || q.raw != "" }

// ftsIndex names the full-text indexes of a table: contextIndex and
// memoryIndex name them in general, and at(r) the shard that holds the rows
// of the pk range r (see partition.go).
type ftsIndex struct {
	table, stem, raw string
	bm25             string   // arguments of bm25() after the table: column weights
	weights          []uint32 // the same weights, per column, for contextd_hits
}

// at returns the index shard holding the rows of r, a tenant's range.
func (ix ftsIndex) at(r pkRange) ftsIndex {
	k := shardOf(max(r.lo, 0))
	ix.stem, ix.raw = ftsName(ix.stem, k), ftsName(ix.raw, k)
	return ix
}

var (
	contextIndex = ftsIndex{table: "contexts", stem: "contexts_fts", raw: "contexts_raw", bm25: ", 4.0, 1.0", weights: []uint32{titleWeight, contentWeight}}
	memoryIndex  = ftsIndex{table: "memories", stem: "memories_fts", raw: "memories_raw", weights: []uint32{1}}
)

// source returns the subquery of the rows matching q, as pk (and b, the
// BM25 summed over both indexes, lower is better, when scored), or "" when q
// looks for nothing.
func (ix ftsIndex) source(q ftsQuery, scored bool) (string, []any) {
	one := func(tbl string) string {
		if scored {
			return "SELECT rowid AS pk, bm25(" + tbl + ix.bm25 + ") AS b FROM " + tbl + " WHERE " + tbl + " MATCH ? AND rowid BETWEEN ? AND ?"
		}
		return "SELECT rowid AS pk FROM " + tbl + " WHERE " + tbl + " MATCH ? AND rowid BETWEEN ? AND ?"
	}
	lo, hi := q.r.lo, q.r.hi
	switch {
	case q.stem != "" && q.raw != "":
		if scored {
			return "SELECT pk, sum(b) AS b FROM (" + one(ix.stem) + " UNION ALL " + one(ix.raw) + ") GROUP BY pk", []any{q.stem, lo, hi, q.raw, lo, hi}
		}
		return one(ix.stem) + " UNION " + one(ix.raw), []any{q.stem, lo, hi, q.raw, lo, hi}
	case q.stem != "":
		return one(ix.stem), []any{q.stem, lo, hi}
	case q.raw != "":
		return one(ix.raw), []any{q.raw, lo, hi}
	}
	return "", nil
}

// excluded returns the conditions leaving out the rows (alias a) that match
// the excluded terms of q, each starting with " AND ".
func (ix ftsIndex) excluded(q ftsQuery, a string) (string, []any) {
	var (
		b    strings.Builder
		args []any
	)
	if q.negStem != "" {
		b.WriteString(" AND " + a + ".pk NOT IN (SELECT rowid FROM " + ix.stem + " WHERE " + ix.stem + " MATCH ? AND rowid BETWEEN ? AND ?)")
		args = append(args, q.negStem, q.r.lo, q.r.hi)
	}
	if q.negRaw != "" {
		b.WriteString(" AND " + a + ".pk NOT IN (SELECT rowid FROM " + ix.raw + " WHERE " + ix.raw + " MATCH ? AND rowid BETWEEN ? AND ?)")
		args = append(args, q.negRaw, q.r.lo, q.r.hi)
	}
	return b.String(), args
}

// from returns a FROM ... WHERE clause over the rows of ix.table (alias a)
// that match q and the condition where, and its arguments. With scored, fm.b
// is the row's BM25. The index drives the query (CROSS JOIN keeps that
// order) and the row filters follow.
func (ix ftsIndex) from(q ftsQuery, a, where string, wargs []any, scored bool) (string, []any) {
	src, args := ix.source(q, scored)
	var clause string
	if src != "" {
		clause = " FROM (" + src + ") AS fm CROSS JOIN " + ix.table + " " + a + " ON " + a + ".pk = fm.pk WHERE " + where
	} else {
		clause = " FROM " + ix.table + " " + a + " WHERE " + where
	}
	args = append(args, wargs...)
	neg, nargs := ix.excluded(q, a)
	return clause + neg, append(args, nargs...)
}

// errNoMatch says the query could not be run even as plain words: the answer
// is "nothing matches".
var errNoMatch = errors.New("the full-text query matches nothing")

// withQuery calls fn with the ftsQuery of the parsed query. A query the
// engine refuses is run again as its plain words (no prefixes, no
// exclusions), and when that fails too, the result is errNoMatch: a query
// string never makes an error.
func withQuery(ctx context.Context, parsed contextd.Query, r pkRange, fn func(q ftsQuery) error) error {
	pos := parsed.Positive()
	q := newFTSQuery(pos, parsed.Negative())
	q.r = r
	err := fn(q)
	if err == nil || ctx.Err() != nil || !isFTSError(err) {
		return err
	}
	var plain []contextd.Term
	for _, t := range pos {
		for _, w := range t.Words {
			plain = append(plain, contextd.Term{Words: []string{w}})
		}
	}
	q = newFTSQuery(plain, nil)
	q.r = r
	err = fn(q)
	if err != nil && ctx.Err() == nil && isFTSError(err) {
		return errNoMatch
	}
	return err
}

// isFTSError reports whether err is the engine refusing a MATCH expression.
func isFTSError(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "fts5") || strings.Contains(msg, "syntax error") || strings.Contains(msg, "malformed MATCH")
}

// SearchContexts implements contextd.ContextStore with FTS5: BM25 over title
// (weight 4) and content (weight 1) with the tenant's own statistics
// (search_tenant.go), filters in SQL, total and facets over every match.
// Plain-word queries without facets in a tenant with a top-k segment are
// answered from it instead (topk.go), with the same results.
func (s *Store) SearchContexts(ctx context.Context, sc contextd.Scope, q contextd.SearchQuery) (*contextd.SearchResult, error) {
	switch q.Mode {
	case "", contextd.ModeFulltext:
	case contextd.ModeSemantic, contextd.ModeHybrid:
		return nil, &contextd.Error{Code: contextd.EINVALID, Message: "semantic search is not enabled",
			Fields: []contextd.FieldError{{Location: "body.mode", Message: "semantic search is not enabled; use fulltext"}}}
	default:
		return nil, contextd.Invalid("body.mode", "must be fulltext, semantic or hybrid")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = contextd.DefaultListLimit
	}
	limit = min(limit, contextd.MaxSearchLimit)
	offset := min(max(q.Offset, 0), contextd.MaxSearchOffset)

	var f sqlBuilder
	f.visible(sc, "c")
	// tenantOnly: the tenant is the only condition, and the index's rowid
	// range already applies it: counting needs no row.
	tenantOnly := len(f.conds) == 1
	if err := searchFilters(&f, q.Filters); err != nil {
		return nil, err
	}
	tenantOnly = tenantOnly && len(f.conds) == 1
	facets, err := facetSpecs(q.Facets)
	if err != nil {
		return nil, err
	}

	parsed := contextd.ParseQuery(q.Query)
	res := &contextd.SearchResult{Results: []*contextd.SearchHit{}, Facets: map[string][]contextd.FacetCount{}}
	for _, fc := range facets {
		res.Facets[fc.name] = []contextd.FacetCount{}
	}
	var (
		page   []hit
		used   ftsQuery
		loaded map[int64]*contextd.Context // the page's contexts, when loaded with it
	)
	run := func(tx *conn, fq ftsQuery) error {
		page, used, res.Total, loaded = page[:0], fq, 0, nil
		var (
			exact bool
			total = -1 // the number of matches, when known
			err   error
		)
		switch {
		case fq.ranked() && !s.shardScores.Load():
			// BM25 over the tenant alone (search_tenant.go).
			if page, total, loaded, err = tenantPage(ctx, tx, fq, &f, tenantOnly, offset, limit); err != nil {
				return err
			}
			exact = true
		case fq.ranked() && tenantOnly && fq.negStem == "" && fq.negRaw == "" && !s.countedOff.Load():
			// The tenant is the only condition: rank and count in one pass.
			if page, loaded, total, exact, err = countedPage(ctx, tx, fq, offset, limit); err != nil {
				return err
			}
		case fq.ranked():
			if page, total, exact, err = topPage(ctx, tx, fq, &f, offset, limit); err != nil {
				return err
			}
		}
		if !exact {
			if page, err = fullPage(ctx, tx, fq, &f, offset, limit); err != nil {
				return err
			}
			if len(page) < limit && (len(page) > 0 || offset == 0) {
				total = offset + len(page) // the page holds the last match
			}
		}
		// Total and facets count every match; they need no score.
		from, fargs := contextIndex.at(fq.r).from(fq, "c", f.where(), f.args, false)
		if total < 0 {
			count, cargs := `SELECT count(*)`+from, fargs
			if tenantOnly && fq.ranked() {
				// The index alone knows the tenant's matches: no row is read.
				src, sargs := contextIndex.at(fq.r).source(fq, false)
				neg, nargs := contextIndex.at(fq.r).excluded(fq, "fm")
				count, cargs = `SELECT count(*) FROM (`+src+`) AS fm WHERE 1`+neg, append(sargs, nargs...)
			}
			if err := tx.QueryRowContext(ctx, count, cargs...).Scan(&total); err != nil {
				return err
			}
		}
		res.Total = total
		for _, fc := range facets {
			counts, err := fc.count(ctx, tx, from, fargs)
			if err != nil {
				return err
			}
			res.Facets[fc.name] = counts
		}
		return nil
	}

	err = s.read(ctx, "search contexts", func(tx *conn) error {
		r, err := s.tenantRange(ctx, tx, sc.Tenant)
		if err != nil {
			return err
		}
		// Plain words without facets: the top-k index when the tenant has
		// a segment (topk.go), else FTS5.
		served := false
		if words, ok := topkWords(parsed); ok && len(facets) == 0 {
			if page, res.Total, served, err = s.topkSearch(ctx, tx, r, words, &f, tenantOnly, q.Filters, sc.UserID, offset, limit); err != nil {
				return err
			}
		}
		if served {
			used = newFTSQuery(parsed.Positive(), nil) // for the highlights
			used.r = r
		} else {
			err = withQuery(ctx, parsed, r, func(fq ftsQuery) error { return run(tx, fq) })
		}
		if errors.Is(err, errNoMatch) {
			page, res.Total = nil, 0
			for _, fc := range facets {
				res.Facets[fc.name] = []contextd.FacetCount{}
			}
			return nil
		}
		if err != nil || len(page) == 0 {
			return err
		}
		pks := make([]int64, len(page))
		for i, h := range page {
			pks[i] = h.pk
		}
		byPK := loaded
		if byPK == nil {
			if byPK, err = contextsByPK(ctx, tx, pks); err != nil {
				return err
			}
		}
		var hl map[int64]map[string][]string
		if q.Highlight && used.ranked() {
			if hl, err = highlights(ctx, tx, used, pks); err != nil {
				return err
			}
		}
		cs := make([]*contextd.Context, 0, len(page))
		for _, h := range page {
			c := byPK[h.pk]
			if c == nil {
				continue
			}
			cs = append(cs, c)
			res.Results = append(res.Results, &contextd.SearchHit{Context: c, Score: h.score, Highlights: hl[h.pk]})
		}
		return fillRelationships(ctx, tx, sc, cs)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// hit is a match of a search: its row and score (higher is better).
type hit struct {
	pk        int64
	score     float64
	createdAt int64
	id        string
}

// topPage (with countedPage, search_counted.go) ranked with FTS5's bm25(),
// over the statistics of the tenant's index shard: searches take it only
// with Store.shardScores set, for comparisons; search_tenant.go ranks.
//
// topPage computes the page from the best matches of the whole index alone:
// BM25 is computed for every match anyway, but only the best k rows are
// joined to their contexts, filtered and sorted. It reports exact=false when
// those k do not settle the page (filters left too few of them), and the
// caller then ranks every match. total is the number of matches when the k
// rows hold them all, else -1.
func topPage(ctx context.Context, tx *conn, fq ftsQuery, f *sqlBuilder, offset, limit int) (page []hit, total int, exact bool, err error) {
	need := offset + limit
	k := 2*need + 64
	src, srcArgs := contextIndex.at(fq.r).source(fq, true)
	neg, negArgs := contextIndex.at(fq.r).excluded(fq, "c")
	args := append(append(append(append([]any{}, f.args...), negArgs...), srcArgs...), k)
	rows, err := tx.QueryContext(ctx, `SELECT fm.pk, fm.b, c.created_at, c.id, coalesce((`+f.where()+neg+`), 0)
		FROM (`+src+` ORDER BY b LIMIT ?) AS fm CROSS JOIN contexts c ON c.pk = fm.pk`, args...)
	if err != nil {
		return nil, -1, false, err
	}
	defer rows.Close()
	var (
		passed  []hit
		fetched int
		worst   = math.Inf(-1)
	)
	for rows.Next() {
		var (
			h  hit
			ok bool
		)
		if err := rows.Scan(&h.pk, &h.score, &h.createdAt, &h.id, &ok); err != nil {
			return nil, -1, false, err
		}
		fetched++
		worst = max(worst, h.score)
		if ok {
			passed = append(passed, h)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, -1, false, err
	}
	sortHits(passed)
	// The k best settle the page when they are every match, or when the last
	// row of the page ranks strictly better than every row left out (which
	// all score at least worst).
	exhausted := fetched < k
	switch {
	case exhausted:
		total = len(passed)
	case len(passed) >= need && passed[need-1].score < worst:
		total = -1
	default:
		return nil, -1, false, nil
	}
	page = passed[min(offset, len(passed)):min(need, len(passed))]
	for i := range page {
		page[i].score = -page[i].score
	}
	return page, total, true, nil
}

// sortHits orders raw BM25 hits: best (lowest) first, ties newest first.
func sortHits(h []hit) {
	sort.Slice(h, func(i, j int) bool {
		a, b := h[i], h[j]
		if a.score != b.score {
			return a.score < b.score
		}
		if a.createdAt != b.createdAt {
			return a.createdAt > b.createdAt
		}
		return a.id > b.id
	})
}

// fullPage ranks every match (or, without words, lists every row newest
// first) and returns the page.
func fullPage(ctx context.Context, tx *conn, fq ftsQuery, f *sqlBuilder, offset, limit int) ([]hit, error) {
	from, fargs := contextIndex.at(fq.r).from(fq, "c", f.where(), f.args, fq.ranked())
	// Best first, ties newest first; without words to rank by, newest first
	// (the created_at index serves the order).
	score, order := "0.0", "c.created_at DESC, c.id DESC"
	if fq.ranked() {
		score, order = "-fm.b", "fm.b, "+order
	}
	rows, err := tx.QueryContext(ctx, `SELECT c.pk, `+score+from+` ORDER BY `+order+` LIMIT ? OFFSET ?`,
		append(fargs, limit, offset)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var page []hit
	for rows.Next() {
		var h hit
		if err := rows.Scan(&h.pk, &h.score); err != nil {
			return nil, err
		}
		page = append(page, h)
	}
	return page, rows.Err()
}

// searchFilters adds the filters of a search on context alias c.
func searchFilters(b *sqlBuilder, f contextd.SearchFilters) error {
	if len(f.Types) > 0 {
		b.add("c.type IN (SELECT value FROM json_each(?))", idList(f.Types))
	}
	if len(f.Statuses) > 0 {
		b.add("c.status IN (SELECT value FROM json_each(?))", idList(f.Statuses))
	}
	for _, t := range f.Tags {
		b.add("EXISTS (SELECT 1 FROM context_tags t WHERE t.context_pk = c.pk AND t.tag = ?)", t)
	}
	if f.SessionID != "" {
		b.add("c.session_id = ?", f.SessionID)
	}
	if f.UserID != "" {
		b.add("c.user_id = ?", f.UserID)
	}
	if !f.CreatedAfter.IsZero() {
		b.add("c.created_at > ?", nanos(f.CreatedAfter))
	}
	if !f.CreatedBefore.IsZero() {
		b.add("c.created_at < ?", nanos(f.CreatedBefore))
	}
	keys := make([]string, 0, len(f.Metadata))
	for k := range f.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys) // one statement shape per key set
	for _, k := range keys {
		if !contextd.ValidMetadataKey(k) {
			return contextd.Invalid("body.filters.metadata."+k, "a metadata key must match [A-Za-z0-9_][A-Za-z0-9_-]{0,63}")
		}
		path := jsonPath(k)
		switch v := f.Metadata[k].(type) {
		case nil:
			b.add("json_type(c.metadata, ?) = 'null'", path)
		case bool:
			jt := "false"
			if v {
				jt = "true"
			}
			b.add("json_type(c.metadata, ?) = ?", path, jt)
		case string:
			b.add("json_type(c.metadata, ?) = 'text' AND json_extract(c.metadata, ?) = ?", path, path, v)
		case float64, float32, int, int64, int32:
			b.add("json_type(c.metadata, ?) IN ('integer', 'real') AND json_extract(c.metadata, ?) = ?", path, path, v)
		case json.Number:
			n, err := v.Float64()
			if err != nil {
				return contextd.Invalid("body.filters.metadata."+k, "must be a string, number, boolean or null")
			}
			b.add("json_type(c.metadata, ?) IN ('integer', 'real') AND json_extract(c.metadata, ?) = ?", path, path, n)
		default:
			return contextd.Invalid("body.filters.metadata."+k, "must be a string, number, boolean or null")
		}
	}
	return nil
}

// jsonPath is the JSON path of a top-level key, quoted so that no key can
// reach elsewhere (keys are validated too); it is bound as a parameter.
func jsonPath(key string) string {
	return `$."` + strings.ReplaceAll(key, `"`, ``) + `"`
}

// facetSpec is one requested facet.
type facetSpec struct {
	name string
	key  string // metadata key for metadata.<key>
}

func facetSpecs(names []string) ([]facetSpec, error) {
	var out []facetSpec
	seen := map[string]bool{}
	for i, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		switch {
		case n == "type", n == "status", n == "tags":
			out = append(out, facetSpec{name: n})
		case strings.HasPrefix(n, "metadata.") && contextd.ValidMetadataKey(strings.TrimPrefix(n, "metadata.")):
			out = append(out, facetSpec{name: n, key: strings.TrimPrefix(n, "metadata.")})
		default:
			return nil, contextd.Invalid("body.facets["+strconv.Itoa(i)+"]", "must be type, status, tags or metadata.<key>")
		}
	}
	return out, nil
}

// count counts the facet's values over every match (from, fargs), most
// frequent first, at most contextd.MaxFacetValues.
func (fc facetSpec) count(ctx context.Context, tx *conn, from string, fargs []any) ([]contextd.FacetCount, error) {
	var query string
	args := fargs
	switch fc.name {
	case "type", "status":
		query = `SELECT c.` + fc.name + `, count(*) AS n` + from + ` GROUP BY 1 ORDER BY n DESC, 1 LIMIT ?`
	case "tags":
		query = `SELECT t.tag, count(*) AS n FROM context_tags t WHERE t.context_pk IN (SELECT c.pk` + from + `)
			GROUP BY t.tag ORDER BY n DESC, t.tag LIMIT ?`
	default:
		// Scalars only: numbers count together whether stored as integer or real.
		path := jsonPath(fc.key)
		query = `SELECT CASE jt WHEN 'integer' THEN 'real' ELSE jt END AS kind, v, count(*) AS n FROM (
			SELECT json_type(c.metadata, ?) AS jt, json_extract(c.metadata, ?) AS v` + from + `)
			WHERE jt IN ('text', 'integer', 'real', 'true', 'false', 'null')
			GROUP BY kind, v ORDER BY n DESC, kind, v LIMIT ?`
		args = append([]any{path, path}, fargs...)
	}
	rows, err := tx.QueryContext(ctx, query, append(args[:len(args):len(args)], contextd.MaxFacetValues)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []contextd.FacetCount{}
	for rows.Next() {
		if fc.key == "" {
			var v string
			var n int
			if err := rows.Scan(&v, &n); err != nil {
				return nil, err
			}
			out = append(out, contextd.FacetCount{Value: v, Count: n})
			continue
		}
		var (
			kind string
			raw  any
			n    int
		)
		if err := rows.Scan(&kind, &raw, &n); err != nil {
			return nil, err
		}
		var v any
		switch kind {
		case "text":
			switch r := raw.(type) {
			case string:
				v = r
			case []byte:
				v = string(r)
			}
		case "real":
			switch r := raw.(type) {
			case int64:
				v = float64(r)
			case float64:
				v = r
			}
		case "true":
			v = true
		case "false":
			v = false
		case "null":
			v = nil
		}
		out = append(out, contextd.FacetCount{Value: v, Count: n})
	}
	return out, rows.Err()
}

// contextsByPK loads contexts by row key, without relationships.
func contextsByPK(ctx context.Context, q *conn, pks []int64) (map[int64]*contextd.Context, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+contextCols+` FROM contexts c WHERE c.pk IN (SELECT value FROM json_each(?))`, idList(pks))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[int64]*contextd.Context, len(pks))
	for rows.Next() {
		c, pk, err := scanContext(rows)
		if err != nil {
			return nil, err
		}
		out[pk] = c
	}
	return out, rows.Err()
}

// highlights returns the title (highlight) and content (snippet of about
// contextd.SnippetWords tokens) fragments of the rows pks, keeping only fields that
// matched. Words and phrases are marked by the stemmed index, prefixes by the
// raw one; a query with both merges the two renderings (see highlight.go).
func highlights(ctx context.Context, tx *conn, q ftsQuery, pks []int64) (map[int64]map[string][]string, error) {
	type frag struct{ title, content string }
	run := func(tbl, match string, full bool) (map[int64]frag, error) {
		content := `snippet(` + tbl + `, 1, ?1, ?2, '…', ` + strconv.Itoa(contextd.SnippetWords) + `)`
		if full {
			content = `highlight(` + tbl + `, 1, ?1, ?2)`
		}
		rows, err := tx.QueryContext(ctx, `SELECT rowid, highlight(`+tbl+`, 0, ?1, ?2), `+content+`
			FROM `+tbl+` WHERE `+tbl+` MATCH ?3 AND rowid IN (SELECT value FROM json_each(?4))`,
			contextd.HighlightStart, contextd.HighlightEnd, match, idList(pks))
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := map[int64]frag{}
		for rows.Next() {
			var (
				pk             int64
				title, content sql.NullString
			)
			if err := rows.Scan(&pk, &title, &content); err != nil {
				return nil, err
			}
			out[pk] = frag{title.String, content.String}
		}
		return out, rows.Err()
	}
	both := q.stem != "" && q.raw != ""
	var stem, raw map[int64]frag
	var err error
	if q.stem != "" {
		if stem, err = run(contextIndex.at(q.r).stem, q.stem, both); err != nil {
			return nil, err
		}
	}
	if q.raw != "" {
		if raw, err = run(contextIndex.at(q.r).raw, q.raw, both); err != nil {
			return nil, err
		}
	}
	out := map[int64]map[string][]string{}
	for _, pk := range pks {
		s, inS := stem[pk]
		r, inR := raw[pk]
		var f frag
		switch {
		case inS && inR:
			title, ts := mergeHighlights(s.title, r.title)
			content, cs := mergeHighlights(s.content, r.content)
			f = frag{contextd.MarkSpans(title, ts), contextd.Snippet(content, cs, contextd.SnippetWords)}
		case inS && both:
			f = frag{s.title, snippetFrom(s.content)}
		case inR && both:
			f = frag{r.title, snippetFrom(r.content)}
		case inS:
			f = s
		case inR:
			f = r
		default:
			continue
		}
		h := map[string][]string{}
		if strings.Contains(f.title, contextd.HighlightStart) {
			h["title"] = []string{f.title}
		}
		if strings.Contains(f.content, contextd.HighlightStart) {
			h["content"] = []string{f.content}
		}
		if len(h) > 0 {
			out[pk] = h
		}
	}
	return out, nil
}

// IndexStats implements contextd.ContextStore: the scope's contexts and live
// memories, and the bytes of every full-text shadow table (as last measured,
// see cachedIndexSize).
func (s *Store) IndexStats(ctx context.Context, sc contextd.Scope) (*contextd.IndexStats, error) {
	now := s.clock()
	out := &contextd.IndexStats{}
	err := s.read(ctx, "index stats", func(tx *conn) error {
		var b sqlBuilder
		b.visible(sc, "c")
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM contexts c WHERE `+b.where(), b.args...).Scan(&out.Documents); err != nil {
			return err
		}
		var m sqlBuilder
		m.live(sc, "m", now)
		return tx.QueryRowContext(ctx, `SELECT count(*) FROM memories m WHERE `+m.where(), m.args...).Scan(&out.Memories)
	})
	if err != nil {
		return nil, err
	}
	size, _, err := s.cachedIndexSize(ctx, indexSizeTTL)
	if err != nil {
		return nil, err
	}
	out.IndexSizeBytes = size
	return out, nil
}

// indexSizeTTL is how old an index size IndexStats reports before it has it
// measured again.
const indexSizeTTL = 10 * time.Second

// cachedIndexSize returns the full-text index size and when it was
// measured. Measuring reads every page of the indexes (dbstat: ~7 s for the
// 1.8 GB of indexes of 1M contexts when the file is not cached, more at 3M),
// so it runs in the background, one measurement at a time, bound to the
// store's life rather than to a caller: a measurement older than maxAge is
// returned at once while the next one runs, and only a caller with no
// measurement yet waits, for as long as ctx lets it (its ctx's error then;
// the measurement goes on for the next caller).
func (s *Store) cachedIndexSize(ctx context.Context, maxAge time.Duration) (int64, time.Time, error) {
	s.sizeMu.Lock()
	size, at := s.size, s.sizeAt
	var done chan struct{}
	if at.IsZero() || time.Since(at) > maxAge {
		if s.sizing == nil {
			s.sizing = make(chan struct{})
			go s.refreshIndexSize(s.sizing)
		}
		done = s.sizing
	}
	s.sizeMu.Unlock()
	if !at.IsZero() {
		return size, at, nil
	}
	select {
	case <-done:
	case <-ctx.Done():
		return 0, time.Time{}, ctx.Err()
	}
	s.sizeMu.Lock()
	defer s.sizeMu.Unlock()
	if s.sizeAt.IsZero() {
		return 0, time.Time{}, s.sizeErr
	}
	return s.size, s.sizeAt, nil
}

// refreshIndexSize measures the index size, cancelled when the store
// closes, keeps the size or the error, and closes done.
func (s *Store) refreshIndexSize(done chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	size, err := s.measureIndexSize(ctx)
	if err != nil && !s.isClosed() {
		s.log.Warn("measuring the full-text index size", "err", err)
	}
	s.sizeMu.Lock()
	defer s.sizeMu.Unlock()
	if err == nil {
		s.size, s.sizeAt = size, time.Now()
	} else if s.sizeAt.IsZero() {
		s.sizeErr = fmt.Errorf("measuring the full-text index size: %w", err)
	}
	s.sizing = nil
	close(done)
}

// measureIndexSize returns the bytes of every full-text shadow table, each
// table measured on a read snapshot of its own: a walk of every page of the
// indexes takes seconds at a million contexts, and a snapshot held that long
// keeps checkpoints from going past it while writes go on (see buildChunk).
// dbstat reads only the b-tree it is asked for by name (an equality on
// name); a pattern would make it walk every page of the file.
func (s *Store) measureIndexSize(ctx context.Context) (int64, error) {
	var tables []string
	err := s.read(ctx, "index size", func(c *conn) error {
		var err error
		tables, err = fullTextTables(ctx, c)
		return err
	})
	if err != nil {
		return 0, err
	}
	var total int64
	for _, t := range tables {
		err := s.read(ctx, "index size", func(c *conn) error {
			var (
				n   int64
				err error
			)
			if s.key != nil {
				// The encrypted driver's SQLite has no dbstat (driver.go).
				n, err = tablePayload(ctx, c, t)
			} else {
				var v sql.NullInt64
				err = c.QueryRowContext(ctx, `SELECT sum(pgsize) FROM dbstat WHERE name = ? AND aggregate = TRUE`, t).Scan(&v)
				n = v.Int64
			}
			total += n
			return err
		})
		if err != nil {
			return 0, err
		}
	}
	return total, nil
}

// fullTextTables lists the full-text indexes' shadow tables (the tables
// that hold their data; not the virtual tables themselves).
func fullTextTables(ctx context.Context, tx *conn) ([]string, error) {
	return queryColumn[string](ctx, tx, `SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%' AND (
		name GLOB 'contexts_fts*' OR name GLOB 'contexts_raw_*' OR name GLOB 'memories_fts*' OR name GLOB 'memories_raw_*')`)
}

// tablePayload is the size of table t where dbstat is missing: the bytes of
// its values (the index blocks mostly), read row by row, a little less than
// the pages they fill.
func tablePayload(ctx context.Context, tx *conn, t string) (int64, error) {
	cols, err := tx.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, t)
	if err != nil {
		return 0, err
	}
	var sum []string
	for cols.Next() {
		var c string
		if err := cols.Scan(&c); err != nil {
			cols.Close()
			return 0, err
		}
		sum = append(sum, `coalesce(length(CAST("`+strings.ReplaceAll(c, `"`, `""`)+`" AS BLOB)), 8)`)
	}
	cols.Close()
	if err := cols.Err(); err != nil || len(sum) == 0 {
		return 0, err
	}
	var n sql.NullInt64
	err = tx.QueryRowContext(ctx, `SELECT sum(`+strings.Join(sum, " + ")+`) FROM "`+strings.ReplaceAll(t, `"`, `""`)+`"`).Scan(&n)
	return n.Int64, err
}
