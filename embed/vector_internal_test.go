package embed

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// groupedVector is Vector as it was before accumulate: one pass over the
// accumulator per distinct token. Vector must give its bits exactly.
func groupedVector(b *Builtin, text string) []float32 {
	ids := referenceIDs(b.tok, text)
	slices.Sort(ids)
	acc := make([]float64, b.dims)
	for i := 0; i < len(ids); {
		id, n := ids[i], 1
		for i+n < len(ids) && ids[i+n] == id {
			n++
		}
		i += n
		s := float64(b.scales[id]) * float64(n)
		row := b.rows[int(id)*b.dims : int(id+1)*b.dims]
		for j, q := range row {
			acc[j] += s * float64(q)
		}
	}
	return unit(acc) // the accumulation is what changed, not the scaling
}

// TestVectorBitIdentical checks that Vector's four-terms-a-pass sum gives
// the vectors of one pass per term bit for bit, on texts of every length
// (so every remainder of terms modulo four).
func TestVectorBitIdentical(t *testing.T) {
	b, err := NewBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	texts := []string{"", " ", "a", "memory", "memory server", benchText}
	for range 300 {
		texts = append(texts, randomText(r))
	}
	for _, text := range texts {
		got, want := b.Vector(text), groupedVector(b, text)
		for j := range want {
			if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
				t.Fatalf("%q: component %d = %v, want %v", text, j, got[j], want[j])
			}
		}
	}
}

// TestWordCacheConcurrent fills the word cache from many goroutines past
// several folds and its bound: every word reads back what was put, and
// the cache keeps at most maxWords words.
func TestWordCacheConcurrent(t *testing.T) {
	var c wordCache
	const workers, words = 8, maxWords/4 + 1000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range words {
				k := strconv.Itoa(w*words + i)
				n, _ := strconv.Atoi(k)
				c.put(k, []int32{int32(n)})
				if v, ok := c.get([]byte(k)); ok && (len(v) != 1 || v[0] != int32(n)) {
					t.Errorf("word %s: %v", k, v)
					return
				}
			}
		})
	}
	wg.Wait()
	kept := 0
	for i := range workers * words {
		k := strconv.Itoa(i)
		v, ok := c.getString(k)
		if !ok {
			continue
		}
		kept++
		if len(v) != 1 || v[0] != int32(i) {
			t.Fatalf("word %s: %v", k, v)
		}
	}
	if kept != maxWords {
		t.Fatalf("kept %d words, want the bound %d", kept, maxWords)
	}
}

// BenchmarkBuiltinVectorParallel embeds texts of many words that are not
// vocabulary entries (cut and cached once) from parallel goroutines, as
// request handlers do.
func BenchmarkBuiltinVectorParallel(b *testing.B) {
	e, err := NewBuiltin()
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	words := strings.Fields(benchText + " tokenization unaffable kubernetes postgresql deduplicated " +
		"reindexing misconfigured webhooks backfilled idempotency rollbacks shardable")
	texts := make([]string, 64)
	for i := range texts {
		var sb strings.Builder
		for range 150 {
			sb.WriteString(words[r.IntN(len(words))])
			sb.WriteByte(' ')
		}
		texts[i] = sb.String()
	}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			e.Vector(texts[i%len(texts)])
			i++
		}
	})
}
