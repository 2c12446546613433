package contextd_test

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/contextd/contextd"
)

// packedStore is a store's vectors for an index with a reader: rows by
// tenant and id, changed as a store's writes change them.
type packedStore struct {
	mu   sync.Mutex
	rows map[string]map[string]contextd.VectorEntry // tenant → id → entry
	read int
}

func (s *packedStore) source() contextd.VectorSource {
	return contextd.VectorSource{
		Load: func(_ context.Context, tenant, kind, model string, fn func(contextd.VectorEntry)) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			ids := make([]string, 0, len(s.rows[tenant]))
			for id := range s.rows[tenant] {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			for _, id := range ids {
				fn(s.rows[tenant][id])
			}
			return nil
		},
		Read: func(_ context.Context, tenant, kind, model string, ids []string, fn func(string, []float32)) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.read += len(ids)
			for _, id := range ids {
				if e, ok := s.rows[tenant][id]; ok {
					fn(id, contextd.DecodeVector(contextd.EncodeVector(e.Vector)))
				}
			}
			return nil
		},
	}
}

// exactInt8 is the score an int8 index gives v for q.
func exactInt8(q, v []float32) float64 {
	d := contextd.DecodeVector(contextd.EncodeVector(v))
	qq := contextd.DecodeVector(contextd.EncodeVector(q))
	var s float64
	for j := range qq {
		s += float64(qq[j]) * float64(d[j])
	}
	return s
}

// TestPackedShard: a shard large enough to be packed (the index has a
// reader) answers from its packed vectors and the rows read back: exact
// scores, filters, tenant isolation, VectorFilter.IDs, and writes (a delete,
// a new vector, an attribute change) reflected.
func TestPackedShard(t *testing.T) {
	const n, dims = 30000, 64
	r := rand.New(rand.NewPCG(5, 5))
	common := randVec(rand.New(rand.NewPCG(6, 6)), dims)
	vec := func() []float32 {
		v := randVec(r, dims)
		var norm float64
		for j := range v {
			v[j] += 2 * common[j]
			norm += float64(v[j]) * float64(v[j])
		}
		for j := range v {
			v[j] /= float32(math.Sqrt(norm))
		}
		return v
	}
	st := &packedStore{rows: map[string]map[string]contextd.VectorEntry{"a": {}, "b": {}}}
	for i := range n {
		id := "c" + strconv.Itoa(i)
		st.rows["a"][id] = contextd.VectorEntry{ID: id, Vector: vec(), Type: benchTypes[i%4], Tags: []string{"t" + strconv.Itoa(i%3)}}
	}
	for i := range 100 {
		id := "b" + strconv.Itoa(i)
		st.rows["b"][id] = contextd.VectorEntry{ID: id, Vector: vec(), Type: "note"}
	}
	ix := contextd.NewVectorIndexFrom("m", st.source())
	ctx := context.Background()
	filter := func(tenant string, types ...string) contextd.VectorFilter {
		return contextd.VectorFilter{Scope: contextd.Scope{Tenant: tenant}, Contexts: &contextd.SearchFilters{Types: types}}
	}
	exact := func(q []float32, keep func(contextd.VectorEntry) bool) []string {
		type sc struct {
			id string
			s  float64
		}
		var all []sc
		for id, e := range st.rows["a"] {
			if keep(e) {
				all = append(all, sc{id, exactInt8(q, e.Vector)})
			}
		}
		slices.SortFunc(all, func(x, y sc) int {
			if x.s > y.s {
				return -1
			}
			return 1
		})
		var ids []string
		for _, e := range all[:10] {
			ids = append(ids, e.id)
		}
		return ids
	}
	found := 0
	const queries = 20
	for range queries {
		q := st.rows["a"]["c"+strconv.Itoa(r.IntN(n))].Vector
		q = slices.Clone(q)
		noise := randVec(r, dims)
		for j := range q {
			q[j] += 0.1 * noise[j]
		}
		hits, total, err := ix.Nearest(ctx, contextd.VectorContext, q, filter("a", "note", "task"), 10)
		if err != nil {
			t.Fatal(err)
		}
		if total != n/2 || len(hits) != 10 {
			t.Fatalf("%d hits of %d, want 10 of %d", len(hits), total, n/2)
		}
		want := exact(q, func(e contextd.VectorEntry) bool { return e.Type == "note" || e.Type == "task" })
		for _, h := range hits {
			e := st.rows["a"][h.ID]
			if e.Type != "note" && e.Type != "task" {
				t.Fatalf("%s of type %s passed the filter", h.ID, e.Type)
			}
			if s := exactInt8(q, e.Vector); math.Abs(s-h.Score) > 1e-6 {
				t.Fatalf("%s: score %.6f, exact int8 score %.6f", h.ID, h.Score, s)
			}
			if slices.Contains(want, h.ID) {
				found++
			}
		}
	}
	recall := float64(found) / (10 * queries)
	t.Logf("recall@10 against exact scoring %.3f; %d rows read back a search", recall, st.read/queries)
	if recall < 0.9 {
		t.Errorf("recall@10 %.3f, want >= 0.9", recall)
	}

	// Tenant isolation: b's search sees b's rows only, a's reads a's.
	q := vec()
	hits, total, err := ix.Nearest(ctx, contextd.VectorContext, q, filter("b"), 10)
	if err != nil || total != 100 || len(hits) != 10 || hits[0].ID[0] != 'b' {
		t.Fatalf("tenant b: %v (total %d), %v", hits, total, err)
	}
	hits, _, err = ix.Nearest(ctx, contextd.VectorContext, q, filter("a"), 10)
	if err != nil || hits[0].ID[0] != 'c' {
		t.Fatalf("tenant a: %v, %v", hits, err)
	}

	// Writes: the best hit deleted, another row given the query's vector,
	// a third one's type changed (attributes only).
	first := hits[0].ID
	st.mu.Lock()
	delete(st.rows["a"], first)
	st.mu.Unlock()
	ix.Remove("a", contextd.VectorContext, first)
	moved := st.rows["a"]["c7"] // a decision
	moved.Vector = slices.Clone(q)
	st.rows["a"]["c7"] = moved
	ix.Upsert("a", contextd.VectorContext, "m", moved)
	retyped := st.rows["a"][hits[1].ID]
	retyped.Type = "summary"
	st.rows["a"][retyped.ID] = retyped
	retyped.Vector = nil
	ix.Upsert("a", contextd.VectorContext, "m", retyped)
	after, total, err := ix.Nearest(ctx, contextd.VectorContext, q, filter("a"), 10)
	if err != nil || total != n-1 || after[0].ID != "c7" || after[0].Score < 0.99 || slices.ContainsFunc(after, func(h contextd.VectorHit) bool { return h.ID == first }) {
		t.Fatalf("after writes: %v (total %d), %v", after, total, err)
	}
	summaries, _, err := ix.Nearest(ctx, contextd.VectorContext, q, filter("a", "summary"), 10)
	if err != nil || len(summaries) != 1 || summaries[0].ID != retyped.ID {
		t.Fatalf("retyped: %v, %v", summaries, err)
	}
	// Tags and VectorFilter.IDs on a packed shard.
	tagged, total, err := ix.Nearest(ctx, contextd.VectorContext, q, contextd.VectorFilter{Scope: contextd.Scope{Tenant: "a"},
		Contexts: &contextd.SearchFilters{Tags: []string{"t1"}}, IDs: []string{"c1", "c2", "c4", "c7", "nope"}}, 10)
	if err != nil || total != 3 || len(tagged) != 3 || tagged[0].ID != "c7" || !slices.ContainsFunc(tagged, func(h contextd.VectorHit) bool { return h.ID == "c4" }) {
		t.Fatalf("IDs and tag t1: %v (total %d), %v", tagged, total, err)
	}
}

// TestPackedShardBytes: the bytes a packed shard counts (VectorIndex.Bytes,
// what VECTOR_INDEX_MB bounds) are within 10% of the Go heap it holds.
func TestPackedShardBytes(t *testing.T) {
	const n, dims = 60000, 256
	st := &packedStore{rows: map[string]map[string]contextd.VectorEntry{"a": {}}}
	r := rand.New(rand.NewPCG(8, 8))
	for i := range n {
		id := contextd.NewID(time.Unix(int64(i), 0))
		st.rows["a"][id] = contextd.VectorEntry{ID: id, Vector: randVec(r, dims), Type: benchTypes[i%4], UserID: "u" + strconv.Itoa(i%50),
			Tags: []string{"t" + strconv.Itoa(i%7), "x" + strconv.Itoa(i%5)}, Metadata: map[string]any{"k": float64(i % 3)}}
	}
	src := st.source()
	src.Count = func(context.Context, string, string, string) (int, error) { return n, nil }
	ix := contextd.NewVectorIndexFrom("m", src)
	heap := func() int64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	h0 := heap()
	if _, _, err := ix.Nearest(context.Background(), contextd.VectorContext, randVec(r, dims), contextd.VectorFilter{Scope: contextd.Scope{Tenant: "a"}}, 1); err != nil {
		t.Fatal(err)
	}
	held, counted := heap()-h0, ix.Bytes()
	t.Logf("%d rows: Go heap %d B a row, counted %d B a row", n, held/n, counted/n)
	if math.Abs(float64(counted-held)) > 0.1*float64(held) {
		t.Fatalf("counted %d bytes, the heap holds %d", counted, held)
	}
}
