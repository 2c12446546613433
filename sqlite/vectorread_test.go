package sqlite

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/contextd/contextd"
)

// TestReadVectors: the index's reader gives the stored vectors of the ids
// asked of the tenant and kind asked, of the model asked, and skips the
// others (unknown ids, another tenant's, another model's, rows without a
// vector), also past one batch of ids.
func TestReadVectors(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir(), Options{TopKMinContexts: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	vec := func(i int) []float32 {
		v := make([]float32, 8)
		v[i%8], v[(i+1)%8] = 0.6, 0.8
		return v
	}
	var items []contextd.ContextCreate
	for i := range 600 {
		it := contextd.ContextCreate{Title: "t", Content: "c", Vector: vec(i), VectorModel: "m"}
		if i == 3 {
			it.VectorModel = "other"
		}
		if i == 4 {
			it.Vector, it.VectorModel = nil, ""
		}
		items = append(items, it)
	}
	a, err := s.CreateContexts(ctx, contextd.Scope{Tenant: "a"}, items)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateContexts(ctx, contextd.Scope{Tenant: "b"}, items[:1])
	if err != nil {
		t.Fatal(err)
	}
	mem, err := s.CreateMemories(ctx, contextd.Scope{Tenant: "a"}, []contextd.MemoryCreate{{Type: contextd.MemoryFact, Content: "x", SessionID: "s", Vector: vec(5), VectorModel: "m"}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range a {
		ids = append(ids, c.ID)
	}
	ids = append(ids, "nope", b[0].ID)
	got := map[string][]float32{}
	err = s.readVectors(ctx, "a", contextd.VectorContext, "m", ids, func(id string, v []float32) { got[id] = v })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 598 {
		t.Fatalf("%d vectors read, want 598", len(got))
	}
	for i, c := range a {
		v, ok := got[c.ID]
		if (i == 3 || i == 4) == ok {
			t.Fatalf("row %d: read %v", i, ok)
		}
		for j := range v {
			if math.Abs(float64(v[j]-vec(i)[j])) > 0.01 {
				t.Fatalf("row %d: %v, want %v", i, v, vec(i))
			}
		}
	}
	got = map[string][]float32{}
	err = s.readVectors(ctx, "a", contextd.VectorMemory, "m", []string{mem[0].ID, a[0].ID}, func(id string, v []float32) { got[id] = v })
	if err != nil || len(got) != 1 || got[mem[0].ID] == nil {
		t.Fatalf("memories: %v, %v", got, err)
	}
}

// BenchmarkReadVectors: the index's read-back of 100 random rows' vectors
// (what a packed shard's search reads) from a store of 50,000 contexts,
// its pages in SQLite's cache after the first rounds.
func BenchmarkReadVectors(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, b.TempDir(), Options{TopKMinContexts: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(1, 1))
	var ids []string
	for range 100 {
		items := make([]contextd.ContextCreate, 500)
		for i := range items {
			v := make([]float32, 256)
			for j := range v {
				v[j] = float32(r.NormFloat64())
			}
			items[i] = contextd.ContextCreate{Title: "t", Content: "c", Vector: v, VectorModel: "m"}
		}
		cs, err := s.CreateContexts(ctx, contextd.Scope{Tenant: "a"}, items)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
	}
	want := make([]string, 100)
	for b.Loop() {
		start := r.IntN(len(ids))
		for i := range want {
			want[i] = ids[(start+i*499)%len(ids)] // 100 distinct rows spread over the table
		}
		n := 0
		if err := s.readVectors(ctx, "a", contextd.VectorContext, "m", want, func(string, []float32) { n++ }); err != nil || n != len(want) {
			b.Fatalf("%d of %d read, %v", n, len(want), err)
		}
	}
}
