package neo4j

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/contextd/contextd"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// ftField is a field of a full-text index and its weight in the ranking.
type ftField struct {
	name  string
	boost string // "" for 1
}

var (
	// The title weighs four times the content, as in the embedded store.
	contextFields = []ftField{{"ftTitle", "4"}, {"ftContent", ""}}
	memoryFields  = []ftField{{"ftContent", ""}}
)

// luceneQuery is a parsed contextd query written in Lucene's syntax.
type luceneQuery struct {
	text   string          // the Lucene query; "" when it looks for nothing and excludes nothing
	ranked bool            // it looks for words (else it only filters, and lists newest first)
	pos    []contextd.Term // the positive terms, folded, for highlights
}

// newLuceneQuery writes q for an index with fields, in tenant token tk:
//
//	+ftk:"tk"^0 +(ftTitle:("w1" "a phrase" pre*)^4 ftContent:(...)) -ftTitle:(...) -ftContent:(...)
//
// Every word is folded the way the index was written and goes inside double
// quotes, or escaped for a prefix, so nothing a user types is read as Lucene
// syntax (operators, fields, fuzzy, ranges, regexps). The tenant clause has
// boost 0: it filters without changing the BM25 score.
func newLuceneQuery(q contextd.Query, tk string, fields []ftField) luceneQuery {
	lq := luceneQuery{pos: foldTerms(q.Positive())}
	neg := foldTerms(q.Negative())
	var b strings.Builder
	b.WriteString(`+ftk:"` + tk + `"^0`)
	if len(lq.pos) > 0 {
		lq.ranked = true
		b.WriteString(" +(")
		for i, f := range fields {
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(f.name + ":(" + luceneTerms(lq.pos) + ")")
			if f.boost != "" {
				b.WriteString("^" + f.boost)
			}
		}
		b.WriteString(")")
	}
	if len(neg) > 0 {
		for _, f := range fields {
			b.WriteString(" -" + f.name + ":(" + luceneTerms(neg) + ")")
		}
	}
	if lq.ranked || len(neg) > 0 {
		lq.text = b.String()
	}
	return lq
}

func foldTerms(ts []contextd.Term) []contextd.Term {
	out := make([]contextd.Term, 0, len(ts))
	for _, t := range ts {
		words := make([]string, len(t.Words))
		for i, w := range t.Words {
			words[i] = fold(w)
		}
		t.Words = words
		out = append(out, t)
	}
	return out
}

// luceneTerms writes terms as an OR list of quoted words, phrases and prefixes.
func luceneTerms(ts []contextd.Term) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		if t.Prefix {
			parts[i] = luceneEscape(t.Words[0]) + "*"
			continue
		}
		parts[i] = `"` + quoteEscape(strings.Join(t.Words, " ")) + `"`
	}
	return strings.Join(parts, " ")
}

// luceneEscape escapes every character Lucene's query parser treats specially.
func luceneEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`+-&|!(){}[]^"~*?:\/ `, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// quoteEscape escapes what is special inside a quoted Lucene phrase.
func quoteEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// isParseError reports whether err is Lucene refusing a query (a syntax it
// cannot read, or a prefix expanding to too many terms): the query is then
// run again as plain words, and failing that matches nothing.
func isParseError(err error) bool {
	var ne *neo4j.Neo4jError
	return errors.As(err, &ne) && (strings.Contains(ne.Msg, "ParseException") ||
		strings.Contains(ne.Msg, "TooManyClauses") || strings.Contains(ne.Msg, "maxClauseCount"))
}

// plainQuery keeps the positive words of q, without phrases, prefixes or exclusions.
func plainQuery(q contextd.Query) contextd.Query {
	var out contextd.Query
	for _, t := range q.Positive() {
		for _, w := range t.Words {
			out.Terms = append(out.Terms, contextd.Term{Words: []string{w}})
		}
	}
	return out
}

// facetSpec is one requested facet and its parameter name.
type facetSpec struct {
	name, key, param string
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
			out = append(out, facetSpec{name: n, key: strings.TrimPrefix(n, "metadata."), param: "fp" + strconv.Itoa(i)})
		default:
			return nil, contextd.Invalid("body.facets["+strconv.Itoa(i)+"]", "must be type, status, tags or metadata.<key>")
		}
	}
	return out, nil
}

// cypher is the subquery counting the facet over hits, as column col.
func (fc facetSpec) cypher(col string) string {
	var unwind string
	switch fc.name {
	case "type", "status":
		unwind = `UNWIND hits AS c WITH c.` + fc.name + ` AS v`
	case "tags":
		unwind = `UNWIND hits AS c UNWIND c.tags AS v WITH v`
	default:
		unwind = `UNWIND hits AS c UNWIND coalesce(c.meta, []) AS kv WITH kv WHERE kv STARTS WITH $` + fc.param +
			` WITH substring(kv, size($` + fc.param + `)) AS v`
	}
	return ` CALL { WITH hits ` + unwind + ` WITH v, count(*) AS n ORDER BY n DESC, v LIMIT ` +
		strconv.Itoa(contextd.MaxFacetValues) + ` RETURN collect([v, n]) AS ` + col + ` }`
}

// searchFilters adds the filters of a search on context alias c.
func searchFilters(w *where, f contextd.SearchFilters) error {
	if len(f.Types) > 0 {
		w.add("c.type IN %s", f.Types)
	}
	if len(f.Statuses) > 0 {
		w.add("c.status IN %s", f.Statuses)
	}
	if len(f.Tags) > 0 {
		w.add("all(t IN %s WHERE t IN c.tags)", f.Tags)
	}
	if f.SessionID != "" {
		w.add("c.sessionId = %s", f.SessionID)
	}
	if f.UserID != "" {
		w.add("c.userId = %s", f.UserID)
	}
	if !f.CreatedAfter.IsZero() {
		w.add("c.createdAt > %s", nanos(f.CreatedAfter))
	}
	if !f.CreatedBefore.IsZero() {
		w.add("c.createdAt < %s", nanos(f.CreatedBefore))
	}
	if len(f.Metadata) > 0 {
		pairs := make([]string, 0, len(f.Metadata))
		for k, v := range f.Metadata {
			if !contextd.ValidMetadataKey(k) {
				return contextd.Invalid("body.filters.metadata."+k, "a metadata key must match [A-Za-z0-9_][A-Za-z0-9_-]{0,63}")
			}
			p, ok := metaPair(k, v)
			if !ok {
				return contextd.Invalid("body.filters.metadata."+k, "must be a string, number, boolean or null")
			}
			pairs = append(pairs, p)
		}
		sort.Strings(pairs)
		w.add("all(p IN %s WHERE p IN c.meta)", pairs)
	}
	return nil
}

// SearchContexts implements contextd.ContextStore on the context_text
// full-text index: Lucene's BM25 over title (weight 4) and content, the
// filters in Cypher, total and facets counted over every match in the same
// query, highlights marked in Go.
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
	facets, err := facetSpecs(q.Facets)
	if err != nil {
		return nil, err
	}
	parsed := contextd.ParseQuery(q.Query)
	tk := ftk(s.sk(sc.Tenant))
	lq := newLuceneQuery(parsed, tk, contextFields)
	res, err := s.search(ctx, sc, q, lq, facets, offset, limit)
	if err != nil && isParseError(err) {
		lq = newLuceneQuery(plainQuery(parsed), tk, contextFields)
		if res, err = s.search(ctx, sc, q, lq, facets, offset, limit); err != nil && isParseError(err) {
			res, err = &contextd.SearchResult{Results: []*contextd.SearchHit{}}, nil
		}
	}
	if err != nil {
		return nil, err
	}
	if res.Facets == nil {
		res.Facets = map[string][]contextd.FacetCount{}
	}
	for _, fc := range facets {
		if res.Facets[fc.name] == nil {
			res.Facets[fc.name] = []contextd.FacetCount{}
		}
	}
	return res, nil
}

func (s *Store) search(ctx context.Context, sc contextd.Scope, q contextd.SearchQuery, lq luceneQuery, facets []facetSpec, offset, limit int) (*contextd.SearchResult, error) {
	w := newWhere(params{"off": int64(offset), "end": int64(offset + limit)})
	s.visible(w, sc, "c")
	if err := searchFilters(w, q.Filters); err != nil {
		return nil, err
	}
	var b strings.Builder
	if lq.text != "" {
		w.p["lq"] = lq.text
		b.WriteString(`CALL db.index.fulltext.queryNodes('context_text', $lq) YIELD node AS c, score WHERE ` + w.String() +
			` WITH c ORDER BY score DESC, c.createdAt DESC, c.id DESC`)
	} else {
		b.WriteString(`MATCH (c:Context) WHERE ` + w.String() + ` WITH c ORDER BY c.createdAt DESC, c.id DESC`)
	}
	b.WriteString(` WITH collect(c) AS hits`)
	if lq.ranked {
		// Lucene's order picks the matches to re-score; BM25 over the
		// tenant's statistics orders them (see bm25.go).
		w.p["cut"] = int64(rerankCut(offset + limit))
		w.p["lim"] = int64(limit)
		b.WriteString(` CALL { WITH hits UNWIND hits[0..$cut] AS c` + contextRanker.scoreCypher("c") + `
			WITH c, score ORDER BY score DESC, c.createdAt DESC, c.id DESC SKIP $off LIMIT $lim
			RETURN collect({c: c` + ctxProj + `, score: score}) AS page }`)
	} else {
		b.WriteString(` CALL { WITH hits UNWIND hits[$off..$end] AS c RETURN collect({c: c` + ctxProj + `, score: 0.0}) AS page }`)
	}
	cols := []string{"size(hits) AS total", "page"}
	for i, fc := range facets {
		col := "f" + strconv.Itoa(i)
		if fc.param != "" {
			w.p[fc.param] = fc.key + "="
		}
		b.WriteString(fc.cypher(col))
		cols = append(cols, col)
	}
	b.WriteString(" RETURN " + strings.Join(cols, ", "))

	res := &contextd.SearchResult{Results: []*contextd.SearchHit{}, Facets: map[string][]contextd.FacetCount{}}
	err := s.read(ctx, "search contexts", func(tx neo4j.ManagedTransaction) error {
		res.Results = res.Results[:0]
		if lq.ranked {
			bp, err := contextRanker.bm25Params(ctx, tx, s.sk(sc.Tenant), lq)
			if err != nil {
				return err
			}
			for k, v := range bp {
				w.p[k] = v
			}
		}
		row, err := single(ctx, tx, b.String(), w.p)
		if err != nil || row == nil {
			return err
		}
		res.Total = int(i64(row["total"]))
		page, _ := row["page"].([]any)
		cs := make([]*contextd.Context, 0, len(page))
		for _, item := range page {
			m, _ := item.(map[string]any)
			c, err := decodeContext(m["c"])
			if err != nil {
				return err
			}
			hit := &contextd.SearchHit{Context: c, Score: f64(m["score"])}
			if q.Highlight && lq.ranked {
				hit.Highlights = highlights(c, lq.pos)
			}
			cs = append(cs, c)
			res.Results = append(res.Results, hit)
		}
		for i, fc := range facets {
			res.Facets[fc.name] = decodeFacet(row["f"+strconv.Itoa(i)], fc.key != "")
		}
		return s.fillRelationships(ctx, tx, sc, cs)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// decodeFacet reads [[value, count], ...]; metadata values are typed pairs.
func decodeFacet(v any, meta bool) []contextd.FacetCount {
	out := []contextd.FacetCount{}
	l, _ := v.([]any)
	for _, x := range l {
		pair, _ := x.([]any)
		if len(pair) != 2 {
			continue
		}
		var val any = str(pair[0])
		if meta {
			val = metaValue(str(pair[0]))
		}
		out = append(out, contextd.FacetCount{Value: val, Count: int(i64(pair[1]))})
	}
	return out
}

// IndexStats implements contextd.ContextStore: the scope's contexts and live
// memories. Neo4j does not report the size of a full-text index over Bolt,
// so IndexSizeBytes is 0.
func (s *Store) IndexStats(ctx context.Context, sc contextd.Scope) (*contextd.IndexStats, error) {
	now := s.clock()
	out := &contextd.IndexStats{}
	err := s.read(ctx, "index stats", func(tx neo4j.ManagedTransaction) error {
		w := newWhere(nil)
		s.visible(w, sc, "c")
		m := newWhere(w.p)
		m.n = w.n
		s.live(m, sc, "m", now)
		row, err := single(ctx, tx, `RETURN COUNT { MATCH (c:Context) WHERE `+w.String()+` } AS docs,
			COUNT { MATCH (m:Memory) WHERE `+m.String()+` } AS mems`, m.p)
		if err != nil || row == nil {
			return err
		}
		out.Documents, out.Memories = int(i64(row["docs"])), int(i64(row["mems"]))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
