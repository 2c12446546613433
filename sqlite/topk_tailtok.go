package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"slices"
	"strings"
)

// tailTokens tokenizes the rows of a tail (buildTail) and gives their
// posting lists and lengths exactly as the private FTS5 table alone used
// to: rows whose title and content are pure ASCII (nearly all) are
// tokenized in Go (asciiStemmer, porter.go); the others go into the
// private FTS5 table, made at the first of them. The two sets of postings
// are merged in the fts5vocab order the postingCollector takes (by term,
// byte-wise, then pk), so the tail's lists are the same bytes either way.
type tailTokens struct {
	from    int64    // the tail holds the rows above from
	size    []uint32 // row length by pk - from - 1
	docs    int64
	tokens  int64
	ftsOnly bool // every row through FTS5 (tests and benchmarks compare)

	// The Go-tokenized rows: each term once in terms (ids by its index).
	stem  asciiStemmer
	ids   map[string]int32
	terms []tailTerm

	// The other rows (nil until one comes).
	tt  *tailTokenizer
	ins *sql.Stmt
}

// tailTerm is a term of the Go-tokenized rows and its postings: those of
// the rows before pk as uvarint pairs (pk - the previous one, weight),
// about 3 bytes a posting (a tail rebuilt over many rows holds them all),
// and its weight w in row pk so far (titleWeight per token in the title,
// contentWeight per token in the content).
type tailTerm struct {
	text   string
	list   []byte
	prevPk int64 // the last pk in list
	pk     int64
	w      uint32
}

// push appends the posting of row pk to the list, if any.
func (t *tailTerm) push() {
	if t.w > 0 {
		t.list = binary.AppendUvarint(t.list, uint64(t.pk-t.prevPk))
		t.list = binary.AppendUvarint(t.list, uint64(t.w))
		t.prevPk = t.pk
	}
}

func newTailTokens(from, pending int64, ftsOnly bool) *tailTokens {
	return &tailTokens{from: from, size: make([]uint32, pending-from), ftsOnly: ftsOnly, ids: map[string]int32{}}
}

// add takes row pk, in pk order.
func (tk *tailTokens) add(ctx context.Context, pk int64, title, content []byte) error {
	if tk.ftsOnly || !isASCII(title) || !isASCII(content) {
		return tk.addFTS5(ctx, pk, title, content)
	}
	var n uint32
	for _, col := range [2]struct {
		text []byte
		w    uint32
	}{{title, titleWeight}, {content, contentWeight}} {
		tk.stem.terms(col.text, func(term []byte) {
			n++
			id, ok := tk.ids[string(term)]
			if !ok {
				id = int32(len(tk.terms))
				tk.terms = append(tk.terms, tailTerm{text: string(term)})
				tk.ids[tk.terms[id].text] = id
			}
			if t := &tk.terms[id]; t.pk == pk {
				t.w += col.w
			} else {
				t.push()
				t.pk, t.w = pk, col.w
			}
		})
	}
	tk.size[pk-tk.from-1] = n
	tk.docs++
	tk.tokens += int64(n)
	return nil
}

// addFTS5 inserts row pk into the private table, in the transaction the
// first such row opens. The transaction's statements run without ctx's
// cancellation: an interrupt would leave it open.
func (tk *tailTokens) addFTS5(ctx context.Context, pk int64, title, content []byte) error {
	if tk.tt == nil {
		bg := context.WithoutCancel(ctx)
		tt, err := newTailTokenizer(ctx)
		if err != nil {
			return err
		}
		tk.tt = tt
		if _, err := tt.c.ExecContext(bg, `BEGIN`); err != nil {
			return err
		}
		if tk.ins, err = tt.c.PrepareContext(bg, `INSERT INTO t (rowid, title, content) VALUES (?, ?, ?)`); err != nil {
			return err
		}
	}
	_, err := tk.ins.ExecContext(ctx, pk, string(title), string(content))
	return err
}

// finish commits the private table's rows, if any, and takes their lengths.
func (tk *tailTokens) finish(ctx context.Context) error {
	if tk.tt == nil {
		return nil
	}
	if _, err := tk.tt.c.ExecContext(context.WithoutCancel(ctx), `COMMIT`); err != nil {
		return err
	}
	rows, err := tk.tt.c.QueryContext(ctx, `SELECT id, sz FROM t_docsize`)
	return eachDocSize(rows, err, func(pk, d int64) {
		tk.size[pk-tk.from-1] = uint32(d)
		tk.docs++
		tk.tokens += d
	})
}

// postings emits the tail's posting lists, encoded from lo, term by term
// in byte-wise order.
func (tk *tailTokens) postings(ctx context.Context, lo int64, emit func(postingRow) error) error {
	pc := postingCollector{lo: lo, size: func(pk int64) uint32 { return tk.size[pk-tk.from-1] }, emit: emit}
	// The Go-tokenized terms in byte-wise order, and the postings of the
	// one being fed.
	sorted := tk.sortedTerms()
	i, j := 0, 0
	var (
		pks []int64
		ws  []uint32
	)
	load := func() {
		pks, ws = decodeTailList(sorted[i].list, pks[:0], ws[:0])
		j = 0
	}
	if len(sorted) > 0 {
		load()
	}
	// feed gives pc the Go-tokenized postings before (term, pk) in the
	// vocabulary's order (all of them when all): a row is tokenized one way
	// only, so none is at (term, pk).
	feed := func(term string, pk int64, all bool) error {
		for i < len(sorted) {
			t := sorted[i].text
			for ; j < len(pks); j++ {
				if !all && (t > term || t == term && pks[j] > pk) {
					return nil
				}
				if err := pc.addWeight(t, pks[j], ws[j]); err != nil {
					return err
				}
			}
			if i++; i < len(sorted) {
				load()
			}
		}
		return nil
	}
	if tk.tt != nil {
		// One row per token: read on the C API (a tenth of the driver's
		// allocations), the FTS5 way's largest cost.
		err := tk.tt.cc.queryRows(ctx, `SELECT term, doc, col FROM v`, nil, func(row rowReader) error {
			term, err := row.str(0)
			if err != nil {
				return err
			}
			pk, err := row.int(1)
			if err != nil {
				return err
			}
			col, err := row.str(2)
			if err != nil {
				return err
			}
			if err := feed(term, pk, false); err != nil {
				return err
			}
			return pc.add(term, pk, col == "title")
		})
		if err != nil {
			return err
		}
	}
	if err := feed("", 0, true); err != nil {
		return err
	}
	return pc.flush()
}

// sortedTerms returns the Go-tokenized terms in byte-wise order, their
// lists complete.
func (tk *tailTokens) sortedTerms() []*tailTerm {
	out := make([]*tailTerm, len(tk.terms))
	for i := range tk.terms {
		tk.terms[i].push()
		out[i] = &tk.terms[i]
	}
	slices.SortFunc(out, func(a, b *tailTerm) int { return strings.Compare(a.text, b.text) })
	return out
}

// decodeTailList appends the postings of a tailTerm's list (push's
// encoding) to pks and ws.
func decodeTailList(list []byte, pks []int64, ws []uint32) ([]int64, []uint32) {
	var pk int64
	for len(list) > 0 {
		d, n := binary.Uvarint(list)
		w, m := binary.Uvarint(list[n:])
		pk += int64(d)
		pks, ws = append(pks, pk), append(ws, uint32(w))
		list = list[n+m:]
	}
	return pks, ws
}

func (tk *tailTokens) close() {
	if tk.ins != nil {
		tk.ins.Close()
	}
	if tk.tt != nil {
		tk.tt.close()
	}
}
