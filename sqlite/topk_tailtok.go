package sqlite

import (
	"context"
	"database/sql"
	"fmt"
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

	// The Go-tokenized rows: each term once in terms (ids by its index),
	// and one entry per term and row, in row order.
	stem    asciiStemmer
	ids     map[string]int32
	terms   []string
	entries []tailEntry
	last    []int32 // a term's newest entry

	// The other rows (nil until one comes).
	tt  *tailTokenizer
	ins *sql.Stmt
}

// tailEntry is the weight of a term in a row (titleWeight per token in the
// title, contentWeight per token in the content).
type tailEntry struct {
	term int32
	pk   int64
	w    uint32
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
				s := string(term)
				tk.ids[s] = id
				tk.terms = append(tk.terms, s)
				tk.last = append(tk.last, -1)
			}
			if e := tk.last[id]; e >= 0 && tk.entries[e].pk == pk {
				tk.entries[e].w += col.w
				return
			}
			tk.last[id] = int32(len(tk.entries))
			tk.entries = append(tk.entries, tailEntry{term: id, pk: pk, w: col.w})
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
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			pk int64
			sz []byte
		)
		if err := rows.Scan(&pk, &sz); err != nil {
			return err
		}
		d, err := docSize(sz)
		if err != nil {
			return fmt.Errorf("row %d: %w", pk, err)
		}
		tk.size[pk-tk.from-1] = uint32(d)
		tk.docs++
		tk.tokens += d
	}
	return rows.Err()
}

// postings emits the tail's posting lists, encoded from lo, term by term
// in byte-wise order.
func (tk *tailTokens) postings(ctx context.Context, lo int64, emit func(postingRow) error) error {
	pc := postingCollector{lo: lo, size: func(pk int64) uint32 { return tk.size[pk-tk.from-1] }, emit: emit}
	sorted := tk.sortedEntries()
	i := 0
	// feed gives pc the Go-tokenized entries before (term, pk) in the
	// vocabulary's order (all of them when all): a row is tokenized one way
	// only, so no entry is at (term, pk).
	feed := func(term string, pk int64, all bool) error {
		for ; i < len(sorted); i++ {
			e := sorted[i]
			t := tk.terms[e.term]
			if !all && (t > term || t == term && e.pk > pk) {
				return nil
			}
			if err := pc.addWeight(t, e.pk, e.w); err != nil {
				return err
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

// sortedEntries returns the Go-tokenized entries by term (byte-wise), then
// pk: a counting sort by the terms' ranks, which keeps each term's entries
// in row order.
func (tk *tailTokens) sortedEntries() []tailEntry {
	order := make([]int32, len(tk.terms))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(tk.terms[a], tk.terms[b]) })
	start := make([]int, len(tk.terms)+1) // by rank: where its entries start
	rank := make([]int32, len(tk.terms))
	for r, id := range order {
		rank[id] = int32(r)
	}
	for _, e := range tk.entries {
		start[rank[e.term]+1]++
	}
	for r := 1; r < len(start); r++ {
		start[r] += start[r-1]
	}
	out := make([]tailEntry, len(tk.entries))
	for _, e := range tk.entries {
		r := rank[e.term]
		out[start[r]] = e
		start[r]++
	}
	return out
}

func (tk *tailTokens) close() {
	if tk.ins != nil {
		tk.ins.Close()
	}
	if tk.tt != nil {
		tk.tt.close()
	}
}
