package contextd_test

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contextd/contextd"
)

// readVectors reads a file of contextd.EncodeVector values of dims
// dimensions (as bench's TestWriteVectors writes them).
func readVectors(t testing.TB, path string, dims int) [][]float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	size := 4 + dims
	out := make([][]float32, 0, len(b)/size)
	for off := 0; off+size <= len(b); off += size {
		out = append(out, contextd.DecodeVector(b[off:off+size]))
	}
	return out
}

// TestVectorIndexMemory measures the semantic index on the built-in model's
// vectors of bench-like contexts (CONTEXTD_VECTORS_FILE, queries in
// CONTEXTD_QUERIES_FILE: see bench's TestWriteVectors): the Go heap it holds
// per vector, the median time of a top-10 search, and recall@10 against exact
// scoring of every row (float64 dot products of the stored vectors), half
// the queries filtered by type. CONTEXTD_VECTORS_N rows (default: the
// file's) are loaded; beyond the file's, rows are its vectors again with
// noise (cosine ~0.95 to the original), to reach 1M from fewer. It reports,
// asserting nothing of memory, speed or recall. Skipped without the variables.
func TestVectorIndexMemory(t *testing.T) {
	file, qfile := os.Getenv("CONTEXTD_VECTORS_FILE"), os.Getenv("CONTEXTD_QUERIES_FILE")
	if file == "" || qfile == "" {
		t.Skip("CONTEXTD_VECTORS_FILE or CONTEXTD_QUERIES_FILE not set")
	}
	const dims = 256
	vecs := readVectors(t, file, dims)
	queries := readVectors(t, qfile, dims)
	n := len(vecs)
	if s := os.Getenv("CONTEXTD_VECTORS_N"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for len(vecs) < n {
		v := slices.Clone(vecs[r.IntN(len(vecs))])
		noise := randVec(r, dims)
		var norm float64
		for j := range v {
			v[j] += 0.3 * noise[j]
			norm += float64(v[j]) * float64(v[j])
		}
		for j := range v {
			v[j] /= float32(math.Sqrt(norm))
		}
		vecs = append(vecs, v)
	}
	vecs = vecs[:n]
	// Stored vectors are int8: score against what the store holds.
	for i, v := range vecs {
		vecs[i] = contextd.DecodeVector(contextd.EncodeVector(v))
	}
	types := []string{"note", "note", "note", "decision", "code", "conversation", "task", "reference", "summary"}
	tags := []string{"backend", "frontend", "api", "database", "design", "meeting", "bug", "feature", "research", "ops"}
	projects := []string{"apollo", "borealis", "cascade", "delta", "ember", "falcon", "glacier", "harbor"}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ids := make([]string, n) // the index gets copies: the test's are not counted
	for i := range ids {
		ids[i] = contextd.NewID(base.Add(time.Duration(i) * time.Second))
	}
	entry := func(i int) contextd.VectorEntry {
		er := rand.New(rand.NewPCG(uint64(i), 3))
		var tg []string
		for range er.IntN(5) {
			if t := tags[er.IntN(len(tags))]; !slices.Contains(tg, t) {
				tg = append(tg, t)
			}
		}
		e := contextd.VectorEntry{ID: strings.Clone(ids[i]), Vector: vecs[i], Type: types[i%len(types)],
			Status: contextd.StatusActive, Tags: tg, CreatedAt: base.Add(time.Duration(i) * time.Second),
			Metadata: map[string]any{"project": projects[er.IntN(len(projects))], "priority": float64(1 + er.IntN(5)),
				"source": "chat", "reviewed": er.IntN(3) == 0}}
		if er.IntN(5) == 0 {
			e.SessionID = "bench-session-" + strconv.Itoa(er.IntN(500))
		}
		return e
	}
	slot := make(map[string]int, n)
	for i, id := range ids {
		slot[id] = i
	}
	reads := 0
	read := func(_ context.Context, tenant, kind, model string, ids []string, fn func(string, []float32)) error {
		reads += len(ids)
		for _, id := range ids {
			if i, ok := slot[id]; ok {
				fn(id, vecs[i])
			}
		}
		return nil
	}
	if os.Getenv("CONTEXTD_VECTORS_READBACK") == "off" {
		read = nil
	}
	_ = read
	if f, err := strconv.Atoi(os.Getenv("CONTEXTD_READBACK_FACTOR")); err == nil {
		defer func(old int) { contextd.ReadBackFactor = old }(contextd.ReadBackFactor) // readback
		contextd.ReadBackFactor = f                                                    // readback
	}
	if m, err := strconv.Atoi(os.Getenv("CONTEXTD_READBACK_MIN")); err == nil {
		defer func(old int) { contextd.ReadBackMin = old }(contextd.ReadBackMin) // readback
		contextd.ReadBackMin = m                                                 // readback
	}
	ix := contextd.NewVectorIndexFrom("m", contextd.VectorSource{
		Load: func(_ context.Context, tenant, kind, model string, fn func(contextd.VectorEntry)) error {
			for i := range n {
				fn(entry(i))
			}
			return nil
		},
		Count: func(context.Context, string, string, string) (int, error) { return n, nil },
		Read:  read, // readback
	})
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	ctx := context.Background()
	scope := contextd.Scope{Tenant: "t"}
	h0 := heap()
	t0 := time.Now()
	if _, _, err := ix.Nearest(ctx, contextd.VectorContext, queries[0], contextd.VectorFilter{Scope: scope, Contexts: &contextd.SearchFilters{}}, 1); err != nil {
		t.Fatal(err)
	}
	load := time.Since(t0)
	h1 := heap()
	held := int64(h1 - h0)
	t.Logf("%d vectors: Go heap of the index %d MiB, %d B a vector; load %v", n, held>>20, held/int64(n), load.Round(time.Millisecond))
	t.Logf("the index counts %d MiB (VECTOR_INDEX_MB's measure)", ix.Bytes()>>20) // readback

	// The exact answers, kept next to the queries for the next run.
	cache := qfile + ".exact" + strconv.Itoa(n)
	var exacts [][]int
	if b, err := os.ReadFile(cache); err == nil {
		if err := json.Unmarshal(b, &exacts); err != nil {
			t.Fatal(err)
		}
	}
	found, want := 0, 0
	var times []time.Duration
	for qi, q := range queries {
		f := contextd.VectorFilter{Scope: scope, Contexts: &contextd.SearchFilters{}}
		typ := ""
		if qi%2 == 1 {
			typ = types[qi%len(types)]
			f.Contexts.Types = []string{typ}
		}
		t0 := time.Now()
		hits, _, err := ix.Nearest(ctx, contextd.VectorContext, q, f, 10)
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, time.Since(t0))
		if len(exacts) <= qi {
			exacts = append(exacts, exactTop(vecs, q, func(i int) bool { return typ == "" || types[i%len(types)] == typ }, 10))
		}
		exact := exacts[qi]
		in := map[string]bool{}
		for _, h := range hits {
			in[h.ID] = true
		}
		for _, e := range exact {
			want++
			if in[ids[e]] {
				found++
			}
		}
	}
	if b, err := json.Marshal(exacts); err == nil {
		_ = os.WriteFile(cache, b, 0o644)
	}
	slices.Sort(times)
	t.Logf("%d queries (half filtered by type), top 10: p50 %v, p90 %v; recall@10 against exact scoring %.3f; %d rows read back a query",
		len(queries), times[len(times)/2].Round(10*time.Microsecond), times[len(times)*9/10].Round(10*time.Microsecond), float64(found)/float64(want), reads/len(queries))
}

// exactTop is the rows passing keep of the k best float64 dot products with
// q, best first, computed on both cores.
func exactTop(vecs [][]float32, q []float32, keep func(int) bool, k int) []int {
	type sc struct {
		i int
		s float64
	}
	workers := runtime.GOMAXPROCS(0)
	parts := make([][]sc, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var best []sc
			for i := w; i < len(vecs); i += workers {
				if !keep(i) {
					continue
				}
				var s float64
				for j, x := range vecs[i] {
					s += float64(x) * float64(q[j])
				}
				if len(best) < k || s > best[len(best)-1].s {
					at := sort.Search(len(best), func(p int) bool { return best[p].s < s })
					best = slices.Insert(best, at, sc{i, s})
					if len(best) > k {
						best = best[:k]
					}
				}
			}
			parts[w] = best
		}()
	}
	wg.Wait()
	var all []sc
	for _, p := range parts {
		all = append(all, p...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a].s > all[b].s })
	out := make([]int, 0, k)
	for _, e := range all[:min(k, len(all))] {
		out = append(out, e.i)
	}
	return out
}
