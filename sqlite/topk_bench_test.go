package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/sqlite"
)

// BenchmarkSearchTopK compares, on the same store and in the same run, the
// FTS5 path and the top-k index for one tenant of N contexts: 2-4 words of
// rank 200-4,000 (as `contextd bench` asks), the best 10, without and with
// filters (see below), and for filters the index testing rows instead of
// its filter columns. Sizes come from
// TOPK_BENCH_SIZES (default 10000; e.g. 10000,100000). It reports the build
// time of the segment and, per path, the matches per query.
func BenchmarkSearchTopK(b *testing.B) {
	sizes := []int{10000}
	if env := os.Getenv("TOPK_BENCH_SIZES"); env != "" {
		sizes = nil
		for _, f := range strings.Split(env, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				b.Fatal(err)
			}
			sizes = append(sizes, n)
		}
	}
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 8))
	queries := make([]string, 200)
	for i := range queries {
		w := make([]string, 2+r.IntN(3))
		for j := range w {
			w[j] = word(200 + r.IntN(3800))
		}
		queries[i] = strings.Join(w, " ")
	}
	for _, n := range sizes {
		s, err := sqlite.Open(ctx, b.TempDir(), sqlite.Options{TopKMinContexts: 1 << 30})
		if err != nil {
			b.Fatal(err)
		}
		sc := contextd.Scope{Tenant: "bench"}
		seed(b, s, sc, n)
		start := time.Now()
		if err := sqlite.BuildTopK(s, "bench"); err != nil {
			b.Fatal(err)
		}
		b.Logf("%d contexts: segment built in %v", n, time.Since(start))
		// Filtered: a type (a quarter of the rows), a tag (a twentieth),
		// a user and a tag, a type and metadata; "rows" is the index
		// seeking each match's row instead of its filter columns.
		filterSets := map[string]contextd.SearchFilters{
			"":           {},
			"-type":      {Types: []string{"decision"}},
			"-tag":       {Tags: []string{"tag3"}},
			"-user+tag":  {UserID: "user1", Tags: []string{"team2"}},
			"-type+meta": {Types: []string{"note"}, Metadata: map[string]any{"priority": float64(2)}},
		}
		for _, fs := range []string{"", "-type", "-tag", "-user+tag", "-type+meta"} {
			for _, path := range []string{"fts5", "topk-rows", "topk"} {
				if fs == "" && path == "topk-rows" {
					continue
				}
				sqlite.SetTopK(s, path != "fts5")
				sqlite.SetTopKColumns(s, path == "topk")
				filters := filterSets[fs]
				// Once before timing: the columns are read on first use.
				if _, err := s.SearchContexts(ctx, sc, contextd.SearchQuery{Query: queries[0], Limit: 10, Filters: filters}); err != nil {
					b.Fatal(err)
				}
				b.Run(fmt.Sprintf("%s%s/%d", path, fs, n), func(b *testing.B) {
					var matches int
					i := 0
					for b.Loop() {
						res, err := s.SearchContexts(ctx, sc, contextd.SearchQuery{Query: queries[i%len(queries)], Limit: 10, Filters: filters})
						if err != nil {
							b.Fatal(err)
						}
						matches += res.Total
						i++
					}
					b.ReportMetric(float64(matches)/float64(i), "matches/op")
				})
			}
		}
		s.Close()
	}
}

// BenchmarkUpdateInSegment: single updates of rows a top-k segment holds,
// each recorded as changed (topk_dirty) in its own durable transaction,
// as PATCH /v1/contexts/{id} does.
func BenchmarkUpdateInSegment(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, b.TempDir(), sqlite.Options{TopKMinContexts: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sc := contextd.Scope{Tenant: "bench"}
	ids := seed(b, s, sc, 5000)
	if err := sqlite.BuildTopK(s, "bench"); err != nil {
		b.Fatal(err)
	}
	g := newTextGen(43)
	r := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		content := g.words(150)
		if _, err := s.UpdateContext(ctx, sc, ids[r.IntN(len(ids))], contextd.ContextUpdate{Content: &content}); err != nil {
			b.Fatal(err)
		}
	}
}
