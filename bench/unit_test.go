package bench_test

import (
	"context"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/contextd/contextd/bench"
)

func TestHistogramBuckets(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		v := r.Uint64() >> r.IntN(64)
		i := bench.BucketOf(v)
		if hi := bench.BucketHigh(i); hi < v {
			t.Fatalf("value %d in bucket %d whose highest value is %d", v, i, hi)
		}
		if i > 0 && bench.BucketHigh(i-1) >= v {
			t.Fatalf("value %d in bucket %d, but bucket %d reaches %d", v, i, i-1, bench.BucketHigh(i-1))
		}
		if v >= 128 && float64(bench.BucketHigh(i)-v) > float64(v)/64 {
			t.Fatalf("value %d: bucket %d is wider than 1/64", v, i)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	h, a, b := bench.NewHistogram(), bench.NewHistogram(), bench.NewHistogram()
	// 1..100,000 µs, shuffled, split over two histograms that are merged.
	vals := make([]time.Duration, 100000)
	for i := range vals {
		vals[i] = time.Duration(i+1) * time.Microsecond
	}
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(vals), func(i, j int) { vals[i], vals[j] = vals[j], vals[i] })
	for i, v := range vals {
		if i%2 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	h.Merge(a)
	h.Merge(b)
	if h.Count() != 100000 {
		t.Fatalf("count %d, want 100000", h.Count())
	}
	if h.Max() != 100*time.Millisecond {
		t.Errorf("max %v, want 100ms exactly", h.Max())
	}
	if m := h.Mean(); m < 50*time.Millisecond || m > 50001*time.Microsecond {
		t.Errorf("mean %v, want 50ms", m)
	}
	for _, q := range []float64{.5, .9, .95, .99, .999} {
		want := q * 100 // ms
		got := float64(h.Quantile(q)) / float64(time.Millisecond)
		if math.Abs(got-want)/want > 1.0/64 {
			t.Errorf("p%v = %.3f ms, want %.3f ms within 1.6%%", q*100, got, want)
		}
	}
	if got := h.Quantile(1); got != h.Max() {
		t.Errorf("p100 = %v, want the max %v", got, h.Max())
	}
	empty := bench.NewHistogram()
	if empty.Quantile(.5) != 0 || empty.Max() != 0 || empty.Mean() != 0 {
		t.Error("an empty histogram should report zeros")
	}
	one := bench.NewHistogram()
	one.Record(1234567 * time.Nanosecond)
	if got := one.Quantile(.5); got != 1234567*time.Nanosecond {
		t.Errorf("the median of one value is %v, want the value", got)
	}
}

func TestVocabulary(t *testing.T) {
	v := bench.NewVocabulary(bench.VocabularySeed, bench.VocabularySize)
	words := v.Words()
	if len(words) != bench.VocabularySize {
		t.Fatalf("%d words, want %d", len(words), bench.VocabularySize)
	}
	seen := map[string]bool{}
	for _, w := range words {
		if seen[w] {
			t.Fatalf("%q twice", w)
		}
		seen[w] = true
		if strings.Trim(w, "abcdefghijklmnopqrstuvwxyz") != "" || len(w) < 1 {
			t.Fatalf("%q is not a lower-case word", w)
		}
	}
	if words[0] != "the" {
		t.Errorf("the most frequent word is %q, want \"the\"", words[0])
	}
	if again := bench.NewVocabulary(bench.VocabularySeed, bench.VocabularySize).Words(); !slices.Equal(words, again) {
		t.Error("the vocabulary differs between two calls: a search run would not find a fill run's words")
	}
}

func TestTextGen(t *testing.T) {
	v := bench.NewVocabulary(bench.VocabularySeed, bench.VocabularySize)
	rank := map[string]int{}
	for i, w := range v.Words() {
		rank[w] = i
	}
	g := bench.NewTextGen(v, 42)
	counts := map[string]int{}
	total, totalBytes := 0, 0
	const docs = 300
	for range docs {
		c := g.Content()
		if len(c) < 600 || len(c) > 1700 {
			t.Fatalf("content of %d bytes, want 0.6..1.7 KB", len(c))
		}
		if !strings.HasSuffix(c, ".") || c[0] < 'A' || c[0] > 'Z' {
			t.Fatalf("content is not sentences: %.60q", c)
		}
		totalBytes += len(c)
		for _, w := range strings.FieldsFunc(strings.ToLower(c), func(r rune) bool { return r < 'a' || r > 'z' }) {
			counts[w]++
			total++
		}
	}
	if avg := totalBytes / docs; avg < 800 || avg > 1300 {
		t.Errorf("average content of %d bytes, want about 1 KB", avg)
	}
	// Zipf: the most frequent word is "the" at 4..10% of the words, a long
	// tail is used, and rank 1,000 is far rarer than rank 10.
	if f := float64(counts["the"]) / float64(total); f < .04 || f > .10 {
		t.Errorf("\"the\" is %.1f%% of the words, want 4..10%%", 100*f)
	}
	if len(counts) < 3000 {
		t.Errorf("only %d distinct words in %d documents: the tail is too short", len(counts), docs)
	}
	head, mid := 0, 0
	for w, n := range counts {
		if r := rank[w]; r < 10 {
			head += n
		} else if r >= 1000 && r < 1010 {
			mid += n
		}
	}
	if head < 20*mid {
		t.Errorf("the 10 most frequent words occur %d times, ranks 1000..1009 %d times: not Zipf-like", head, mid)
	}

	for range 200 {
		q := strings.Fields(g.Query())
		if len(q) < 2 || len(q) > 4 {
			t.Fatalf("query %q: want 2..4 words", q)
		}
		for _, w := range q {
			if r, ok := rank[w]; !ok || r < bench.QueryRankLow || r >= bench.QueryRankHigh {
				t.Fatalf("query word %q of rank %d: want a mid-frequency word", w, r)
			}
		}
		tags := g.Tags()
		if len(tags) > 4 || len(slices.Compact(slices.Sorted(slices.Values(tags)))) != len(tags) {
			t.Fatalf("tags %q: want up to 4 distinct", tags)
		}
		if title := g.Title(); len(strings.Fields(title)) < 3 || len(title) > 500 {
			t.Fatalf("title %q", title)
		}
		if md := g.Metadata(); len(md) == 0 {
			t.Fatal("no metadata")
		}
	}

	a, b, c := bench.NewTextGen(v, 7), bench.NewTextGen(v, 7), bench.NewTextGen(v, 8)
	ta, tb, tc := a.Content(), b.Content(), c.Content()
	if ta != tb {
		t.Error("the same seed gave different text")
	}
	if ta == tc {
		t.Error("different seeds gave the same text")
	}
}

func TestCheckTarget(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		url    string
		remote bool
		ok     bool
	}{
		{"http://127.0.0.1:3000", false, true},
		{"http://[::1]:3000", false, true},
		{"http://localhost:3000", false, true},
		{"http://10.0.0.1:3000", false, false},
		{"http://10.0.0.1:3000", true, true},
		{"ftp://127.0.0.1", false, false},
	} {
		u, _ := url.Parse(tc.url)
		if err := bench.CheckTarget(ctx, u, tc.remote); (err == nil) != tc.ok {
			t.Errorf("checkTarget(%s, allowRemote=%v) = %v, want ok=%v", tc.url, tc.remote, err, tc.ok)
		}
	}
}
