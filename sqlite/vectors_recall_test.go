package sqlite

import (
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/embed"
)

// TestVectorRecallOnStore measures, on a real store (CONTEXTD_RECALL_DATA_DIR,
// e.g. one filled by `contextd bench --fill`), the semantic search index:
// its Go heap, and recall@k of its answers against exact int8 scoring of
// every row, for 100 queries of 2-4 words of stored titles embedded by the
// built-in model, half of them filtered by type. It reports; it asserts
// nothing of speed or recall. Skipped without the variable.
func TestVectorRecallOnStore(t *testing.T) {
	dir := os.Getenv("CONTEXTD_RECALL_DATA_DIR")
	if dir == "" {
		t.Skip("CONTEXTD_RECALL_DATA_DIR not set")
	}
	tenant := os.Getenv("CONTEXTD_RECALL_TENANT")
	if tenant == "" {
		tenant = "default"
	}
	ctx := context.Background()
	s, err := Open(ctx, dir, Options{TopKMinContexts: -1, CacheSizeMB: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	emb, err := embed.NewBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	model := emb.Model()

	var titles []string
	var types []string
	err = s.read(ctx, "titles", func(tx *conn) error {
		rows, err := tx.QueryContext(ctx, `SELECT title, type FROM contexts WHERE tenant = ? ORDER BY random() LIMIT 300`, tenant)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var ti, ty string
			if err := rows.Scan(&ti, &ty); err != nil {
				return err
			}
			titles, types = append(titles, ti), append(types, ty)
		}
		return rows.Err()
	})
	if err != nil || len(titles) == 0 {
		t.Fatalf("no titles: %v", err)
	}

	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	h0 := heap()
	s.UseVectorModel(model)
	full := s.index()
	scope := contextd.Scope{Tenant: tenant}
	warm := contextd.VectorFilter{Scope: scope, Contexts: &contextd.SearchFilters{}}
	if _, _, err := full.Nearest(ctx, contextd.VectorContext, make([]float32, 256), warm, 1); err != nil {
		t.Fatal(err)
	}
	h1 := heap()
	t.Logf("Go heap of the index: %d MiB", (h1-h0)>>20)

	all := storeIDs(t, s, `SELECT id FROM contexts WHERE tenant = ?`, tenant)
	nq := 100
	titles, types = titles[:min(nq, len(titles))], types[:min(nq, len(titles))]
	r := rand.New(rand.NewPCG(7, 7))
	for _, k := range []int{10, 50} {
		found, want := 0, 0
		var tFull, tExact time.Duration
		for i, title := range titles {
			w := strings.Fields(title)
			n := min(len(w), 2+r.IntN(3))
			start := r.IntN(len(w) - n + 1)
			vs, err := emb.Embed(ctx, []string{strings.Join(w[start:start+n], " ")})
			if err != nil {
				t.Fatal(err)
			}
			f := contextd.VectorFilter{Scope: scope, Contexts: &contextd.SearchFilters{}}
			if i%2 == 1 {
				f.Contexts.Types = []string{types[i]}
			}
			t0 := time.Now()
			approx, _, err := full.Nearest(ctx, contextd.VectorContext, vs[0], f, k)
			if err != nil {
				t.Fatal(err)
			}
			t1 := time.Now()
			ef := f
			ef.IDs = all
			exact, _, err := full.Nearest(ctx, contextd.VectorContext, vs[0], ef, k)
			if err != nil {
				t.Fatal(err)
			}
			tFull, tExact = tFull+t1.Sub(t0), tExact+time.Since(t1)
			in := map[string]bool{}
			for _, h := range approx {
				in[h.ID] = true
			}
			for _, h := range exact {
				want++
				if in[h.ID] {
					found++
				}
			}
		}
		recall := float64(found) / float64(max(want, 1))
		t.Logf("k=%d: recall of the index's search against exact int8 scoring of every row %.4f (%d queries); mean time %v (exact %v)",
			k, recall, len(titles), tFull/time.Duration(len(titles)), tExact/time.Duration(len(titles)))
	}
}
