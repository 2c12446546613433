package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/sqlite"
)

// vocabulary is 5,000 made-up words drawn with a Zipf law (s = 1.07), like
// words in real notes: a few very common, a long tail of rare ones. word(r)
// is the word of rank r, so queries can pick common or rare words.
var vocabulary = func() []string {
	syl := strings.Fields("ka lo mi ne ru sa ti vo ze bu da fe gi ho ju")
	out := make([]string, 5000)
	for i := range out {
		w, n := "", i+1
		for n > 0 {
			w += syl[n%len(syl)]
			n /= len(syl)
		}
		out[i] = w
	}
	return out
}()

func word(rank int) string { return vocabulary[rank] }

type textGen struct {
	r *rand.Rand
	z *rand.Zipf
}

func newTextGen(seed uint64) *textGen {
	r := rand.New(rand.NewPCG(seed, seed+1))
	return &textGen{r: r, z: rand.NewZipf(r, 1.07, 2, uint64(len(vocabulary)-1))}
}

func (g *textGen) words(n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = vocabulary[g.z.Uint64()]
	}
	return strings.Join(w, " ")
}

func (g *textGen) item() contextd.ContextCreate {
	return contextd.ContextCreate{
		Title:    g.words(4 + g.r.IntN(6)),
		Content:  g.words(80 + g.r.IntN(160)), // about 1 KB
		Type:     []string{"note", "decision", "design", "incident"}[g.r.IntN(4)],
		Status:   contextd.StatusActive,
		UserID:   fmt.Sprintf("user%d", g.r.IntN(5)),
		Tags:     []string{fmt.Sprintf("tag%d", g.r.IntN(20)), fmt.Sprintf("team%d", g.r.IntN(5))},
		Metadata: map[string]any{"priority": float64(g.r.IntN(5)), "source": "bench"},
	}
}

// seed fills a store with n contexts in batches of 1000 and returns their ids.
func seed(b *testing.B, s *sqlite.Store, sc contextd.Scope, n int) []string {
	return seedT(b, s, sc, n)
}

func seedT(b testing.TB, s *sqlite.Store, sc contextd.Scope, n int) []string {
	b.Helper()
	g := newTextGen(42)
	var ids []string
	for len(ids) < n {
		batch := make([]contextd.ContextCreate, min(1000, n-len(ids)))
		for i := range batch {
			batch[i] = g.item()
		}
		cs, err := s.CreateContexts(context.Background(), sc, batch)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

func BenchmarkCreateContext(b *testing.B) {
	s := openAt(b, b.TempDir())
	sc := contextd.Scope{Tenant: "bench"}
	g := newTextGen(1)
	items := make([]contextd.ContextCreate, 1024)
	for i := range items {
		items[i] = g.item()
	}
	ctx := context.Background()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := s.CreateContexts(ctx, sc, items[i%len(items):i%len(items)+1]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkCreateContextParallel(b *testing.B) {
	s := openAt(b, b.TempDir())
	sc := contextd.Scope{Tenant: "bench"}
	g := newTextGen(1)
	items := make([]contextd.ContextCreate, 1024)
	for i := range items {
		items[i] = g.item()
	}
	ctx := context.Background()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.CreateContexts(ctx, sc, items[i%len(items):i%len(items)+1]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func BenchmarkGetContext(b *testing.B) {
	s := openAt(b, b.TempDir())
	sc := contextd.Scope{Tenant: "bench"}
	ids := seed(b, s, sc, 10000)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 8))
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.GetContext(ctx, sc, ids[r.IntN(len(ids))]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetContextParallel(b *testing.B) {
	s := openAt(b, b.TempDir())
	sc := contextd.Scope{Tenant: "bench"}
	ids := seed(b, s, sc, 10000)
	ctx := context.Background()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), 8))
		for pb.Next() {
			if _, err := s.GetContext(ctx, sc, ids[r.IntN(len(ids))]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkSearch(b *testing.B) {
	s := openAt(b, b.TempDir())
	sc := contextd.Scope{Tenant: "bench"}
	seed(b, s, sc, 10000)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		q    contextd.SearchQuery
	}{
		{"rare-word", contextd.SearchQuery{Query: word(3000), Limit: 20}},
		{"medium-word", contextd.SearchQuery{Query: word(500), Limit: 20}},
		{"common-word", contextd.SearchQuery{Query: word(20), Limit: 20}},
		{"two-words", contextd.SearchQuery{Query: word(300) + " " + word(900), Limit: 20}},
		{"question", contextd.SearchQuery{Query: "how do we " + word(400) + " the " + word(1200) + "?", Limit: 20}},
		{"phrase-prefix", contextd.SearchQuery{Query: `"` + word(5) + " " + word(6) + `" ` + word(700)[:4] + "*", Limit: 20}},
		{"facets-highlight", contextd.SearchQuery{Query: word(300) + " " + word(900), Limit: 20, Highlight: true,
			Facets: []string{"type", "tags", "metadata.priority"}}},
		{"filtered", contextd.SearchQuery{Query: word(300) + " " + word(900), Limit: 20,
			Filters: contextd.SearchFilters{Types: []string{"decision"}, Tags: []string{"tag3"}}}},
		{"no-query", contextd.SearchQuery{Limit: 20}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.SearchContexts(ctx, sc, tc.q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSearchMemories(b *testing.B) {
	s := openAt(b, b.TempDir())
	sc := contextd.Scope{Tenant: "bench"}
	g := newTextGen(3)
	ctx := context.Background()
	for range 10 {
		batch := make([]contextd.MemoryCreate, 1000)
		for i := range batch {
			batch[i] = contextd.MemoryCreate{Type: contextd.MemoryFact, Content: g.words(10 + g.r.IntN(30)),
				SessionID: fmt.Sprintf("s%d", g.r.IntN(50))}
		}
		if _, err := s.CreateMemories(ctx, sc, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.SearchMemories(ctx, sc, contextd.MemorySearch{Query: word(300) + " " + word(900), Limit: 10}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCreateContextBatch1000(b *testing.B) {
	s := openAt(b, b.TempDir())
	sc := contextd.Scope{Tenant: "bench"}
	g := newTextGen(1)
	items := make([]contextd.ContextCreate, 1000)
	for i := range items {
		items[i] = g.item()
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.CreateContexts(ctx, sc, items); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(items))/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkIndexStats(b *testing.B) {
	s := openAt(b, b.TempDir())
	sc := contextd.Scope{Tenant: "bench"}
	seed(b, s, sc, 10000)
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.IndexStats(ctx, sc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSearchTenantSize shows that a search costs what the caller's
// tenant holds, not what the store holds: the same 1,000-context tenant is
// searched alone in its store ("alone") and beside 49 other tenants of 1,000
// contexts each ("among-50k"). The query reads only the tenant's rowid range;
// what still grows with the store is BM25's document frequencies, counted
// over the tenant's index shard (1/16 of the tenants).
func BenchmarkSearchTenantSize(b *testing.B) {
	ctx := context.Background()
	queries := []string{word(300) + " " + word(900), word(200) + " " + word(450) + " " + word(1100), word(700)}
	for _, tc := range []struct {
		name   string
		others int
	}{{"alone", 0}, {"among-50k", 49}} {
		s := openAt(b, b.TempDir())
		for i := 0; i < tc.others; i++ {
			seed(b, s, contextd.Scope{Tenant: fmt.Sprintf("other%02d", i)}, 1000)
		}
		sc := contextd.Scope{Tenant: "mine"}
		seed(b, s, sc, 1000)
		b.Run(tc.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, err := s.SearchContexts(ctx, sc, contextd.SearchQuery{Query: queries[i%len(queries)], Limit: 10}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
func BenchmarkCreateMemoryParallel(b *testing.B) {
	s := openAt(b, b.TempDir())
	sc := contextd.Scope{Tenant: "bench"}
	g := newTextGen(1)
	items := make([]contextd.MemoryCreate, 1024)
	for i := range items {
		items[i] = contextd.MemoryCreate{Content: g.words(60), SessionID: "s" + strconv.Itoa(i%200), Tags: []string{"a"}}
	}
	ctx := context.Background()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.CreateMemories(ctx, sc, items[i%len(items):i%len(items)+1]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
