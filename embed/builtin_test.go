package embed_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/contextd/contextd/embed"
)

func cos(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// TestBuiltinMatchesPython checks the Go tokenizer and pooling against the
// build script's own pipeline (testdata/golden.json, written by
// tools/embedmodel/build.py from the same table).
func TestBuiltinMatchesPython(t *testing.T) {
	var golden struct {
		Dims  int `json:"dims"`
		Cases []struct {
			Text   string    `json:"text"`
			IDs    []int32   `json:"ids"`
			Vector []float32 `json:"vector"`
		} `json:"cases"`
	}
	raw, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &golden); err != nil {
		t.Fatal(err)
	}
	b, err := embed.NewBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	if b.Dimensions() != golden.Dims {
		t.Fatalf("dims %d, golden %d", b.Dimensions(), golden.Dims)
	}
	for _, c := range golden.Cases {
		ids := b.Tokenize(c.Text)
		if len(ids) != len(c.IDs) {
			t.Fatalf("%q: ids %v, want %v", c.Text, ids, c.IDs)
		}
		for i := range ids {
			if ids[i] != c.IDs[i] {
				t.Fatalf("%q: ids %v, want %v", c.Text, ids, c.IDs)
			}
		}
		v := b.Vector(c.Text)
		for i := range v {
			if math.Abs(float64(v[i]-c.Vector[i])) > 2e-6 {
				t.Fatalf("%q: component %d = %v, want %v", c.Text, i, v[i], c.Vector[i])
			}
		}
	}
}

func TestBuiltinTokenizer(t *testing.T) {
	b, _ := embed.NewBuiltin()
	// "unaffable" is BERT's documented example of greedy longest-match-first.
	cases := map[string]int{"unaffable": 3, "": 0, "   ": 0, "Hello, World!": 4, "東京": 2}
	for text, n := range cases {
		if got := b.Tokenize(text); len(got) != n {
			t.Errorf("%q: %d tokens %v, want %d", text, len(got), got, n)
		}
	}
	if got, want := b.Tokenize("CAFÉ"), b.Tokenize("cafe"); len(got) != len(want) || got[0] != want[0] {
		t.Errorf("accents and case should not matter: %v vs %v", got, want)
	}
}

// TestBuiltinIsSemantic: a sentence is closer to its paraphrase than to an
// unrelated sentence, for pairs that share few or no words.
func TestBuiltinIsSemantic(t *testing.T) {
	b, _ := embed.NewBuiltin()
	cases := []struct{ a, near, far string }{
		{"I adopted a puppy last week", "We got a new dog recently", "The stock market fell sharply today"},
		{"How do I reset my password?", "I forgot my login credentials", "Best pizza places in Naples"},
		{"She is learning to play the violin", "Her music lessons are going well", "The server crashed after the database migration"},
		{"We went hiking in the mountains", "They climbed a trail up the hill", "Invoice payment is overdue"},
		{"The car would not start this morning", "My vehicle's engine failed", "She painted a beautiful sunset"},
		{"I'm feeling sad and lonely", "She was depressed and isolated", "The recipe needs two cups of flour"},
	}
	for _, c := range cases {
		vs, err := b.Embed(context.Background(), []string{c.a, c.near, c.far})
		if err != nil {
			t.Fatal(err)
		}
		near, far := cos(vs[0], vs[1]), cos(vs[0], vs[2])
		if near <= far+0.05 {
			t.Errorf("%q: near %q %.3f should beat far %q %.3f", c.a, c.near, near, c.far, far)
		}
	}
	v := b.Vector("anything at all")
	if n := cos(v, v); math.Abs(n-1) > 1e-5 {
		t.Fatalf("not normalised: %v", n)
	}
	if z := b.Vector(""); cos(z, z) != 0 {
		t.Fatal("empty text should give the zero vector")
	}
}
