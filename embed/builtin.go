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
	acc := make([]float64, b.dims)
	for i := 0; i < len(ids); {
		id, n := ids[i], 1
		for i+n < len(ids) && ids[i+n] == id {
			n++
		}
		i += n
		s := float64(b.scales[id]) * float64(n)
		off := int(id) * b.dims
		row := b.rows[off : off+b.dims : off+b.dims]
		acc := acc[:len(row)]
		for j, q := range row {
			acc[j] += s * float64(q)
		}
	}
	*bufp = ids
	idsPool.Put(bufp)
	var norm float64
	for _, x := range acc {
		norm += x * x
	}
	v := make([]float32, b.dims)
	if norm == 0 {
		return v
	}
	inv := 1 / math.Sqrt(norm)
	for j, x := range acc {
		v[j] = float32(x * inv)
	}
	return v
}

// idsPool holds token-id buffers between Vector calls.
var idsPool = sync.Pool{New: func() any { s := make([]int32, 0, 512); return &s }}

// Tokenize exposes the tokenizer (for tests and tools).
func (b *Builtin) Tokenize(text string) []int32 { return b.tok.Tokenize(text) }
