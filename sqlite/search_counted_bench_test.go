package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/contextd/contextd"
)

// BenchmarkSearchManyTenants searches an existing store of many small
// tenants (a DATA_DIR filled by `contextd bench --tenants N --fill M`, named
// by MANY_TENANTS_DIR; skipped when unset; opened for writing, so use a
// copy) in process, alternating in one run the ranking over the tenant's
// statistics (search_tenant.go) and, over the shard's with bm25(), the
// one-pass page (countedPage) and the two-statement one (topPage, then a
// count). Queries are 2-4 words of the shards' middle
// frequencies, each to a random tenant, the best 10, as the load generator
// asks.
func BenchmarkSearchManyTenants(b *testing.B) {
	dir := os.Getenv("MANY_TENANTS_DIR")
	if dir == "" {
		b.Skip("MANY_TENANTS_DIR is not set")
	}
	ctx := context.Background()
	s, err := Open(ctx, dir, Options{TopKMinContexts: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var tenants, words []string
	err = s.read(ctx, "bench", func(tx *conn) error {
		rows, err := tx.QueryContext(ctx, `SELECT name FROM tenant_partitions`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return err
			}
			tenants = append(tenants, n)
		}
		rows.Close()
		// Words in 0.5-5% of a sample of rows.
		rows, err = tx.QueryContext(ctx, `SELECT content FROM contexts WHERE pk % 97 = 0 LIMIT 2000`)
		if err != nil {
			return err
		}
		defer rows.Close()
		df := map[string]int{}
		n := 0
		for rows.Next() {
			var text string
			if err := rows.Scan(&text); err != nil {
				return err
			}
			n++
			seen := map[string]bool{}
			for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return r < 'a' || r > 'z' }) {
				if len(w) > 2 && !seen[w] {
					seen[w] = true
					df[w]++
				}
			}
		}
		for w, c := range df {
			if c >= n/200 && c <= n/20 {
				words = append(words, w)
			}
		}
		sort.Strings(words)
		return rows.Err()
	})
	if err != nil {
		b.Fatal(err)
	}
	if len(tenants) == 0 || len(words) < 10 {
		b.Fatalf("%d tenants, %d words", len(tenants), len(words))
	}
	b.Logf("%d tenants, %d query words", len(tenants), len(words))
	r := rand.New(rand.NewPCG(1, 2))
	type search struct {
		sc contextd.Scope
		q  contextd.SearchQuery
	}
	searches := make([]search, 500)
	for i := range searches {
		w := make([]string, 2+r.IntN(3))
		for j := range w {
			w[j] = words[r.IntN(len(words))]
		}
		searches[i] = search{contextd.Scope{Tenant: tenants[r.IntN(len(tenants))]}, contextd.SearchQuery{Query: strings.Join(w, " "), Limit: 10}}
	}
	for round := range 3 {
		for _, v := range []struct {
			name          string
			shard, twoSQL bool
		}{{"shard-two-statements", true, true}, {"shard-one-pass", true, false}, {"tenant", false, false}} {
			b.Run(fmt.Sprintf("%s/round%d", v.name, round), func(b *testing.B) {
				s.shardScores.Store(v.shard)
				s.countedOff.Store(v.twoSQL)
				defer s.shardScores.Store(false)
				defer s.countedOff.Store(false)
				i := 0
				for b.Loop() {
					x := searches[i%len(searches)]
					if _, err := s.SearchContexts(ctx, x.sc, x.q); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}

// BenchmarkMemorySearchTenant compares, in one run, memory search ranked
// over the tenant's own statistics (rankedMemories) with FTS5's bm25() over
// the index shard (shardScores), on one tenant of 60,000 memories of 10-60
// Zipf-distributed words, queries of 2-4 words of middle frequency (ranks
// 200-4,000 of 5,000), the best 10, as the load generator's memory-search.
func BenchmarkMemorySearchTenant(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, b.TempDir(), Options{TopKMinContexts: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	syl := strings.Fields("ka lo mi ne ru sa ti vo ze bu da fe gi ho ju")
	words := make([]string, 5000)
	for i := range words {
		for n := i + 1; n > 0; n /= len(syl) {
			words[i] += syl[n%len(syl)]
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	z := rand.NewZipf(r, 1.07, 2, uint64(len(words)-1))
	sc := contextd.Scope{Tenant: "bench"}
	for range 60 {
		batch := make([]contextd.MemoryCreate, 1000)
		for i := range batch {
			w := make([]string, 10+r.IntN(51))
			for j := range w {
				w[j] = words[z.Uint64()]
			}
			batch[i] = contextd.MemoryCreate{Type: contextd.MemoryFact, Content: strings.Join(w, " "),
				SessionID: fmt.Sprintf("s%d", r.IntN(50)), Importance: "medium", Source: "user"}
		}
		if _, err := s.CreateMemories(ctx, sc, batch); err != nil {
			b.Fatal(err)
		}
	}
	queries := make([]contextd.MemorySearch, 500)
	for i := range queries {
		w := make([]string, 2+r.IntN(3))
		for j := range w {
			w[j] = words[200+r.IntN(3800)]
		}
		queries[i] = contextd.MemorySearch{Query: strings.Join(w, " "), Limit: 10}
	}
	for round := range 3 {
		for _, shard := range []bool{true, false} {
			name := "tenant"
			if shard {
				name = "shard-bm25"
			}
			b.Run(fmt.Sprintf("%s/round%d", name, round), func(b *testing.B) {
				s.shardScores.Store(shard)
				defer s.shardScores.Store(false)
				i := 0
				for b.Loop() {
					if _, err := s.SearchMemories(ctx, sc, queries[i%len(queries)]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}
