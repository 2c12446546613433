package bench

import (
	"bufio"
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/embed"
)

// TestWriteVectors writes the built-in model's vectors of bench-like contexts
// (title and content as the service embeds them, from the fill's text
// generator) to CONTEXTD_VECTORS_OUT, CONTEXTD_VECTORS_N of them (default
// 200,000), each as contextd.EncodeVector's bytes: the input of the vector
// index's memory and recall benchmarks (BenchmarkVectorIndexRealVectors in
// the root package). With CONTEXTD_QUERIES_OUT it writes instead 200 query
// vectors: 2-4 consecutive words of the titles of 200 of those contexts.
// Skipped without either variable.
func TestWriteVectors(t *testing.T) {
	out, queries := os.Getenv("CONTEXTD_VECTORS_OUT"), os.Getenv("CONTEXTD_QUERIES_OUT")
	if queries != "" {
		out = queries
	}
	if out == "" {
		t.Skip("CONTEXTD_VECTORS_OUT not set")
	}
	n := 200_000
	if s := os.Getenv("CONTEXTD_VECTORS_N"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	emb, err := embed.NewBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	g := newTextGen(newVocabulary(vocabularySeed, vocabularySize), 1)
	r := rand.New(rand.NewPCG(7, 7))
	for i := range n {
		title, content := g.Title(), g.Content()
		text := contextd.ContextText(title, content)
		if queries != "" {
			if i%(n/200) != 0 {
				continue
			}
			words := strings.Fields(title)
			k := min(len(words), 2+r.IntN(3))
			start := r.IntN(len(words) - k + 1)
			text = strings.Join(words[start:start+k], " ")
		}
		vs, err := emb.Embed(context.Background(), []string{text})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(contextd.EncodeVector(vs[0])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}
