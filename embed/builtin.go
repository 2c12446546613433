// Package embed provides contextd's embedders: the built-in static model
// (offline, no setup) and a client for OpenAI-compatible /v1/embeddings
// servers.
package embed

import (
	"bufio"
	"context"
	"crypto/sha256"
	_ "embed" // the model files
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/contextd/contextd"
)

// The built-in model: a static embedding table (256 dimensions, int8) distilled from
// sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0) by
// tools/embedmodel/build.py. See model/LICENSE and model/NOTICE.
var (
	//go:embed model/table.bin
	tableBin []byte
	//go:embed model/vocab.txt
	vocabTxt string
)

// BuiltinName is the family name of the built-in model in Model().
const BuiltinName = "builtin/all-minilm-l6-v2-static"

// Builtin is the offline embedder: each WordPiece token of the text has a
// weighted vector in a table; a text's vector is their normalised sum. It is
// safe for concurrent use.
type Builtin struct {
	tok    *Tokenizer
	dims   int
	scales []float32
	rows   []int8
	model  string
}

var (
	builtinOnce sync.Once
	builtin     *Builtin
	builtinErr  error
)

// NewBuiltin returns the built-in embedder (loaded once per process).
func NewBuiltin() (*Builtin, error) {
	builtinOnce.Do(func() { builtin, builtinErr = parseBuiltin(tableBin, vocabTxt) })
	return builtin, builtinErr
}

func parseBuiltin(table []byte, vocab string) (*Builtin, error) {
	if len(table) < 16 || string(table[:4]) != "CEMB" {
		return nil, fmt.Errorf("embed: built-in table: bad magic")
	}
	version := binary.LittleEndian.Uint32(table[4:])
	n := int(binary.LittleEndian.Uint32(table[8:]))
	dims := int(binary.LittleEndian.Uint32(table[12:]))
	if version != 1 || n <= 0 || dims <= 0 || len(table) != 16+4*n+n*dims {
		return nil, fmt.Errorf("embed: built-in table: version %d, %d rows of %d dims in %d bytes", version, n, dims, len(table))
	}
	var words []string
	sc := bufio.NewScanner(strings.NewReader(vocab))
	sc.Buffer(make([]byte, 1024), 1<<20)
	for sc.Scan() {
		words = append(words, sc.Text())
	}
	if len(words) != n {
		return nil, fmt.Errorf("embed: built-in vocabulary has %d tokens, table %d", len(words), n)
	}
	b := &Builtin{tok: NewTokenizer(words, "[UNK]"), dims: dims, scales: make([]float32, n)}
	for i := range n {
		b.scales[i] = math.Float32frombits(binary.LittleEndian.Uint32(table[16+4*i:]))
	}
	raw := table[16+4*n:]
	b.rows = make([]int8, len(raw))
	for i, c := range raw {
		b.rows[i] = int8(c)
	}
	sum := sha256.Sum256(table)
	b.model = fmt.Sprintf("%s-d%d@%s", BuiltinName, dims, hex.EncodeToString(sum[:6]))
	return b, nil
}

var _ contextd.Embedder = (*Builtin)(nil)

// Dimensions is the vector length.
func (b *Builtin) Dimensions() int { return b.dims }

// Model names the table, with a digest of its bytes.
func (b *Builtin) Model() string { return b.model }

// Embed returns the vectors of texts. A text with no known token (empty,
// only spaces) gets the zero vector, which matches nothing.
func (b *Builtin) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		out[i] = b.Vector(t)
	}
	return out, nil
}

// Vector embeds one text.
func (b *Builtin) Vector(text string) []float32 {
	bufp := idsPool.Get().(*[]int32)
	ids := b.tok.AppendIDs((*bufp)[:0], text)
	// Each distinct token is added once, times its count: texts repeat
	// their words (a Zipf law), so this halves the table rows read.
	slices.Sort(ids)
	// The distinct tokens, in order, with their weights (scale × count).
	terms := termsPool.Get().(*[]term)
	ts := (*terms)[:0]
	for i := 0; i < len(ids); {
		id, n := ids[i], 1
		for i+n < len(ids) && ids[i+n] == id {
			n++
		}
		i += n
		ts = append(ts, term{s: float64(b.scales[id]) * float64(n), off: int(id) * b.dims})
	}
	*bufp = ids
	idsPool.Put(bufp)
	acc := make([]float64, b.dims)
	b.accumulate(acc, ts)
	*terms = ts
	termsPool.Put(terms)
	return unit(acc)
}

// unit returns acc scaled to length 1, as float32 (zeros when acc is zero).
func unit(acc []float64) []float32 {
	var norm float64
	for _, x := range acc {
		norm += x * x
	}
	v := make([]float32, len(acc))
	if norm == 0 {
		return v
	}
	inv := 1 / math.Sqrt(norm)
	for j, x := range acc {
		v[j] = float32(x * inv)
	}
	return v
}

// term is one distinct token of a text: its weight and its row's offset.
type term struct {
	s   float64
	off int
}

// accumulate adds the weighted rows of the terms to acc, in the terms'
// order. Four terms share a pass over acc, each component still summed in
// the same order ((acc + t0) + t1) + ..., so the result is bit for bit that
// of one pass per term (TestVectorBitIdentical), with a quarter of the
// loads and stores of acc.
func (b *Builtin) accumulate(acc []float64, ts []term) {
	d := b.dims
	acc = acc[:d]
	i := 0
	for ; i+4 <= len(ts); i += 4 {
		s0, s1, s2, s3 := ts[i].s, ts[i+1].s, ts[i+2].s, ts[i+3].s
		r0 := b.rows[ts[i].off : ts[i].off+d : ts[i].off+d]
		r1 := b.rows[ts[i+1].off : ts[i+1].off+d : ts[i+1].off+d]
		r2 := b.rows[ts[i+2].off : ts[i+2].off+d : ts[i+2].off+d]
		r3 := b.rows[ts[i+3].off : ts[i+3].off+d : ts[i+3].off+d]
		r1, r2, r3 = r1[:len(r0)], r2[:len(r0)], r3[:len(r0)]
		a := acc[:len(r0)]
		for j, q := range r0 {
			a[j] = a[j] + s0*float64(q) + s1*float64(r1[j]) + s2*float64(r2[j]) + s3*float64(r3[j])
		}
	}
	for ; i < len(ts); i++ {
		s := ts[i].s
		row := b.rows[ts[i].off : ts[i].off+d : ts[i].off+d]
		a := acc[:len(row)]
		for j, q := range row {
			a[j] += s * float64(q)
		}
	}
}

// termsPool holds term buffers between Vector calls.
var termsPool = sync.Pool{New: func() any { s := make([]term, 0, 256); return &s }}

// idsPool holds token-id buffers between Vector calls.
var idsPool = sync.Pool{New: func() any { s := make([]int32, 0, 512); return &s }}

// Tokenize exposes the tokenizer (for tests and tools).
func (b *Builtin) Tokenize(text string) []int32 { return b.tok.Tokenize(text) }
