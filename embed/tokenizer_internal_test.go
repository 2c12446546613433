package embed

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// referenceIDs is the tokenizer without its shortcuts: basicTokens, then
// wordPiece on every word.
func referenceIDs(t *Tokenizer, text string) []int32 {
	var ids []int32
	for _, w := range basicTokens(text) {
		ids = t.wordPiece(w, ids)
	}
	return ids
}

// referenceVector is Vector without the grouping of repeated tokens.
func referenceVector(b *Builtin, text string) []float32 {
	acc := make([]float64, b.dims)
	for _, id := range referenceIDs(b.tok, text) {
		s := float64(b.scales[id])
		for j, q := range b.rows[int(id)*b.dims : int(id+1)*b.dims] {
			acc[j] += s * float64(q)
		}
	}
	var norm float64
	for _, x := range acc {
		norm += x * x
	}
	v := make([]float32, b.dims)
	if norm == 0 {
		return v
	}
	for j, x := range acc {
		v[j] = float32(x / math.Sqrt(norm))
	}
	return v
}

func randomText(r *rand.Rand) string {
	words := []string{"the", "Memory", "server", "STORES", "contexts", "unaffable", "tokenization", "x", "Zürich", "naïve", "日本語", "don't", "e-mail", "C++", "v1.2.3", "#tag", "##", "[UNK]", "user@example.com"}
	seps := []string{" ", "  ", "\t", "\n", "\r\n", ".", ", ", "!", "\x00", "\x01", "\x7f", "\v", "\f", "", "-", "_", "\u00a0", "\u200b"}
	var b strings.Builder
	n := r.IntN(40)
	for range n {
		switch r.IntN(10) {
		case 0: // a long run of letters, around BERT's 100-character limit
			b.WriteString(strings.Repeat("ab", 45+r.IntN(12)))
		case 1:
			b.WriteByte(byte(r.IntN(128)))
		default:
			b.WriteString(words[r.IntN(len(words))])
		}
		b.WriteString(seps[r.IntN(len(seps))])
	}
	return b.String()
}

// TestTokenizeASCIIPath checks the one-pass ASCII tokenizer and the
// whole-word and cached shortcuts against the reference pipeline, on
// random texts with controls, punctuation, long words and non-ASCII.
func TestTokenizeASCIIPath(t *testing.T) {
	b, err := NewBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	ascii := 0
	for i := range 400 {
		text := randomText(r)
		if i%2 == 0 { // half of them ASCII only, to exercise the fast path
			text = strings.Map(func(c rune) rune {
				if c >= 0x80 {
					return -1
				}
				return c
			}, text)
		}
		if isASCII(text) {
			ascii++
		}
		for round := range 2 { // the second round reads the word cache
			got, want := b.Tokenize(text), referenceIDs(b.tok, text)
			if !slices32Equal(got, want) {
				t.Fatalf("round %d, %q:\n got %v\nwant %v", round, text, got, want)
			}
		}
		got, want := b.Vector(text), referenceVector(b, text)
		for j := range got {
			if math.Abs(float64(got[j]-want[j])) > 1e-6 {
				t.Fatalf("%q: component %d = %v, reference %v", text, j, got[j], want[j])
			}
		}
	}
	if ascii < 200 {
		t.Fatalf("only %d ASCII texts", ascii)
	}
}

func slices32Equal(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var benchText = strings.Repeat("The memory server keeps contexts and their relationships; searching them again is fast. "+
	"Users store preferences, facts and instructions for assistants, with tags like project-alpha and metadata. ", 5)

func BenchmarkBuiltinVector(b *testing.B) {
	e, err := NewBuiltin()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchText)))
	for b.Loop() {
		e.Vector(benchText)
	}
}

func BenchmarkReferenceVector(b *testing.B) {
	e, err := NewBuiltin()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchText)))
	for b.Loop() {
		referenceVector(e, benchText)
	}
}
