package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/contextd/contextd"
)

// TestCountedPageMatchesTopPage: with shard statistics (shardScores), a
// search whose only condition is the tenant ranks and counts in one
// statement (countedPage); it must answer
// exactly as the two-statement path (topPage, then a count) did: same rows,
// order, scores, totals and highlights, with tenants sharing an index shard
// (BM25's statistics are the shard's), ties straddling the rows it reads,
// prefixes, phrases and pages past the first.
func TestCountedPageMatchesTopPage(t *testing.T) {
	s := openTopK(t)
	s.shardScores.Store(true) // both over the shard's statistics, with bm25()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	// 20 tenants: partitions 1 and 17, 2 and 18... share a shard.
	var tenants []string
	for i := range 20 {
		name := fmt.Sprintf("t%02d", i)
		tenants = append(tenants, name)
		topkCreate(t, s, name, r, 80+r.IntN(120), nil)
	}
	// Ties: 60 rows of the same text score the same for every query.
	same := make([]contextd.ContextCreate, 60)
	for i := range same {
		same[i] = contextd.ContextCreate{Title: "fish graph", Content: "fishing graphs of the rapid queue", Type: "note", Status: contextd.StatusActive}
	}
	if _, err := s.CreateContexts(ctx, contextd.Scope{Tenant: tenants[3]}, same); err != nil {
		t.Fatal(err)
	}
	queries := []string{"fish", "graph queue", "fis*", "fish gra*", `"rapid queue"`, "zzznotaword", "the"}
	var exact, inexact int
	for i := range 400 {
		tenant := tenants[r.IntN(len(tenants))]
		if i%5 == 0 {
			tenant = tenants[3]
		}
		sc := contextd.Scope{Tenant: tenant}
		text := topkQuery(r)
		if i%3 == 0 {
			text = queries[r.IntN(len(queries))]
		}
		q := contextd.SearchQuery{Query: text, Limit: 1 + r.IntN(20), Offset: r.IntN(4) * 7, Highlight: i%4 == 0}
		got, err := s.SearchContexts(ctx, sc, q)
		if err != nil {
			t.Fatal(err)
		}
		s.countedOff.Store(true)
		want, err := s.SearchContexts(ctx, sc, q)
		s.countedOff.Store(false)
		if err != nil {
			t.Fatal(err)
		}
		what := fmt.Sprintf("tenant %s query %q limit %d offset %d", tenant, q.Query, q.Limit, q.Offset)
		if got.Total != want.Total || len(got.Results) != len(want.Results) {
			t.Fatalf("%s: total %d, %d results; want %d, %d", what, got.Total, len(got.Results), want.Total, len(want.Results))
		}
		for j := range got.Results {
			g, w := got.Results[j], want.Results[j]
			if g.Context.ID != w.Context.ID || g.Score != w.Score {
				t.Fatalf("%s: result %d is %s (%v), want %s (%v)", what, j, g.Context.ID, g.Score, w.Context.ID, w.Score)
			}
			if fmt.Sprint(g.Highlights) != fmt.Sprint(w.Highlights) {
				t.Fatalf("%s: result %d highlights %v, want %v", what, j, g.Highlights, w.Highlights)
			}
		}
		// Which branch of countedPage answered (both must be exercised).
		if strings.ContainsAny(text, `*"`) || text == "zzznotaword" {
			continue
		}
		err = s.read(ctx, "test", func(tx *conn) error {
			rg, err := s.tenantRange(ctx, tx, tenant)
			if err != nil {
				return err
			}
			fq := newFTSQuery(contextd.ParseQuery(text).Positive(), nil)
			fq.r = rg
			_, _, total, ok, err := countedPage(ctx, tx, fq, q.Offset, q.Limit)
			if err != nil {
				return err
			}
			if total != want.Total {
				return fmt.Errorf("%s: countedPage total %d, want %d", what, total, want.Total)
			}
			if ok {
				exact++
			} else {
				inexact++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if exact < 50 || inexact == 0 {
		t.Fatalf("countedPage settled %d pages and left %d to the full ranking: both branches must run", exact, inexact)
	}
}
