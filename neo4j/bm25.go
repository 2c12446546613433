package neo4j

import (
	"context"
	"math"
	"strings"

	"github.com/contextd/contextd"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Ranking with the tenant's own statistics.
//
// Lucene finds the matches, but its BM25 statistics (document frequencies,
// average lengths) span the whole index: every tenant of the database and,
// in tests, every store sharing the server. A word common in one tenant's
// data would rank as rare because other tenants lack it, and a tenant could
// watch its scores move with other tenants' writes. So contextd re-scores
// the best matches with BM25 over the tenant's data alone, the way FTS5
// ranks in the embedded store:
//
//	score = Σ_terms idf(t) · f(t)·(k1+1) / (f(t) + k1·(1 − b + b·len/avglen))
//	f(t)  = Σ_fields weight · occurrences of t in the field
//	idf   = ln((N − n(t) + 0.5) / (n(t) + 0.5)), at least 1e-6
//
// with N the tenant's documents, n(t) those holding t, len the document's
// words (ftLen) and k1 = 1.2, b = 0.75. Occurrences are counted in Cypher
// on the stored normalized text, whose words all stand between two spaces:
// " w " for a word, " a  b " for a phrase, " p" for a prefix. The best
// rerankDepth matches by Lucene's score are re-scored (deeper pages rerank
// deeper); total and facets always count every match.

// rerankDepth is how many of Lucene's best matches are re-scored at least.
const rerankDepth = 1000

// rerankCut returns how many matches to re-score for a page ending at end:
// rerankDepth, or the next multiple of it, so neighbouring pages agree.
func rerankCut(end int) int {
	return (end/rerankDepth + 1) * rerankDepth
}

// ranker describes a label's full-text index and its weighted fields.
type ranker struct {
	label, index string
	fields       []ftField
}

var (
	contextRanker = ranker{label: "Context", index: "context_text", fields: contextFields}
	memoryRanker  = ranker{label: "Memory", index: "memory_text", fields: memoryFields}
)

// pattern is what marks one occurrence of term t in the normalized text.
func pattern(t contextd.Term) string {
	if t.Prefix {
		return " " + t.Words[0]
	}
	return " " + strings.Join(t.Words, "  ") + " "
}

// bm25Params returns the parameters scoreCypher reads ($pats, $idf,
// $avgdl) for the positive terms of lq in tenant sk, from one query over
// the tenant's statistics.
func (r ranker) bm25Params(ctx context.Context, tx neo4j.ManagedTransaction, sk string, lq luceneQuery) (params, error) {
	tk := ftk(sk)
	pats := make([]string, len(lq.pos))
	dfq := make([]string, len(lq.pos))
	for i, t := range lq.pos {
		pats[i] = pattern(t)
		var b strings.Builder
		b.WriteString(`+ftk:"` + tk + `"^0 +(`)
		for j, f := range r.fields {
			if j > 0 {
				b.WriteString(" ")
			}
			b.WriteString(f.name + ":(" + luceneTerms([]contextd.Term{t}) + ")")
		}
		b.WriteString(")")
		dfq[i] = b.String()
	}
	row, err := single(ctx, tx, `CALL { MATCH (d:`+r.label+`) WHERE d.sk = $sk RETURN count(d) AS n, avg(d.ftLen) AS avglen }
		CALL { UNWIND range(0, size($dfq) - 1) AS i
			CALL { WITH i CALL db.index.fulltext.queryNodes('`+r.index+`', $dfq[i]) YIELD node WHERE node.sk = $sk
				RETURN count(node) AS hits }
			RETURN collect([i, hits]) AS df }
		RETURN n, avglen, df`, params{"sk": sk, "dfq": dfq})
	if err != nil {
		return nil, err
	}
	n := float64(i64(row["n"]))
	avg := f64(row["avglen"])
	if avg < 1 {
		avg = 1
	}
	idf := make([]float64, len(pats))
	hits := make([]float64, len(pats))
	for _, x := range row["df"].([]any) {
		pair, _ := x.([]any)
		if len(pair) == 2 {
			if i := int(i64(pair[0])); i >= 0 && i < len(hits) {
				hits[i] = float64(i64(pair[1]))
			}
		}
	}
	for i := range idf {
		idf[i] = math.Log((n - hits[i] + 0.5) / (hits[i] + 0.5))
		if idf[i] <= 0 {
			idf[i] = 1e-6
		}
	}
	return params{"pats": pats, "idf": idf, "avglen": avg}, nil
}

// scoreCypher is the Cypher computing score for node alias a from the
// parameters of bm25Params: "WITH a, <bm25> AS score".
func (r ranker) scoreCypher(a string) string {
	var f []string
	for _, fl := range r.fields {
		w := fl.boost
		if w == "" {
			w = "1"
		}
		text := "coalesce(" + a + "." + fl.name + ", '')"
		f = append(f, w+".0 * (size("+text+") - size(replace("+text+", p, ''))) / size(p)")
	}
	return ` WITH ` + a + `, [p IN $pats | ` + strings.Join(f, " + ") + `] AS f
		WITH ` + a + `, reduce(s = 0.0, i IN range(0, size(f) - 1) |
			s + $idf[i] * f[i] * 2.2 / (f[i] + 1.2 * (0.25 + 0.75 * coalesce(` + a + `.ftLen, 0) / $avglen))) AS score`
}
