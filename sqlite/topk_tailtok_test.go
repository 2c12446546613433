package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/bench"
)

// tailRowText returns a row's title and content for the tail tests: the
// bench's text, and with mixed some rows that are not pure ASCII (in the
// title, the content or both) or have ASCII controls and punctuation, and
// the stem variants of topkWordsList (some not ASCII either).
func tailRowText(c *bench.Corpus, r *rand.Rand, mixed bool) (string, string) {
	title, content := c.Title(), c.Content()
	if !mixed {
		return title, content
	}
	switch r.IntN(6) {
	case 0:
		title += " Café"
	case 1:
		content += " naïve Ünïcode 日本語 🙂 Œuvre"
	case 2:
		title, content = title+" Straße", content+" résumé"
	case 3:
		content += " snake_case\ttab\x01ctl\x7fdel x--y (parens) [1] {2} 3.14 e-mail@host"
	}
	return title, content + " " + topkText(r, 10)
}

// storedTail is what a tail segment stores (but its generation and build
// time): its row in topk_tails and its posting lists.
type storedTail struct {
	lo, watermark, docs, tokens int64
	lists                       []postingRow
}

// newestTail returns the partition's newest tail as stored.
func newestTail(t *testing.T, s *Store, part int64) storedTail {
	t.Helper()
	v := viewOf(t, s, part)
	if len(v.segs) < 2 {
		t.Fatal("no tail")
	}
	g := v.segs[len(v.segs)-1]
	out := storedTail{lo: g.lo, watermark: g.watermark, docs: g.docs, tokens: g.tokens}
	ctx := context.Background()
	if err := s.read(ctx, "test", func(tx *conn) error {
		rows, err := tx.QueryContext(ctx, `SELECT term, df, postings FROM topk_postings WHERE part = ? AND gen = ? ORDER BY term`, part, g.gen)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var p postingRow
			if err := rows.Scan(&p.term, &p.df, &p.blob); err != nil {
				return err
			}
			out.lists = append(out.lists, p)
		}
		return rows.Err()
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTailTokensSameSegments: a tail built with the Go tokenizer stores the
// same bytes as one built with FTS5 alone (the lengths, every list), for
// pure-ASCII rows and for ASCII rows mixed with others, rows deleted in
// between; searches on it give the FTS5 path's answers and the store's
// check passes.
func TestTailTokensSameSegments(t *testing.T) {
	ctx := context.Background()
	for i, mixed := range []bool{false, true} {
		t.Run(fmt.Sprintf("mixed=%v", mixed), func(t *testing.T) {
			s := openTopK(t)
			r := rand.New(rand.NewPCG(21, uint64(i)))
			c := bench.NewCorpus(uint64(i))
			tenant := "t"
			sc := contextd.Scope{Tenant: tenant}
			topkCreate(t, s, tenant, r, 100, nil)
			if err := BuildTopK(s, tenant); err != nil {
				t.Fatal(err)
			}
			part := partOf(t, s, tenant)
			from := viewOf(t, s, part).watermark
			items := make([]contextd.ContextCreate, 400)
			for k := range items {
				title, content := tailRowText(c, r, mixed)
				items[k] = contextd.ContextCreate{Title: title, Content: content, Type: []string{"note", "decision"}[r.IntN(2)],
					Status: contextd.StatusActive, UserID: []string{"u1", "u2"}[r.IntN(2)]}
			}
			cs, err := s.CreateContexts(ctx, sc, items)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cs[10:20] {
				if err := s.DeleteContext(ctx, sc, c.ID); err != nil {
					t.Fatal(err)
				}
			}
			s.topk.ftsTail.Store(true)
			tailAfter(t, s, part, from)
			old := newestTail(t, s, part)
			s.topk.ftsTail.Store(false)
			tailAfter(t, s, part, from) // the same rows again, replacing it
			got := newestTail(t, s, part)
			if old.docs != 390 || len(old.lists) < 100 {
				t.Fatalf("the FTS5 tail holds %d rows, %d lists", old.docs, len(old.lists))
			}
			if !reflect.DeepEqual(got, old) {
				for k := range min(len(got.lists), len(old.lists)) {
					if !reflect.DeepEqual(got.lists[k], old.lists[k]) {
						t.Fatalf("list %d: Go %+v, FTS5 %+v", k, got.lists[k], old.lists[k])
					}
				}
				t.Fatalf("Go tail %d %d %d %d (%d lists), FTS5 tail %d %d %d %d (%d lists)", got.lo, got.watermark, got.docs, got.tokens, len(got.lists),
					old.lo, old.watermark, old.docs, old.tokens, len(old.lists))
			}
			sameAsFTS5(t, s, tenant, r, 30)
			rep, err := s.Check(ctx, contextd.CheckOptions{Full: true})
			if err != nil || !rep.OK {
				t.Fatalf("check: %+v %v", rep, err)
			}
		})
	}
}

// TestTailTokensPaths: rows in pure ASCII are tokenized in Go, the others
// (or all, with ftsOnly) through the private FTS5 table, and the lists and
// lengths are the same whichever way each row went.
func TestTailTokensPaths(t *testing.T) {
	ctx := context.Background()
	rows := [][2]string{
		{"Replication lag", "the replica lags behind the primary; replicating"},
		{"Café", "replicas behind a café"},
		{"Primary", "PRIMARY primaries, lag lagging"},
		{"naïve", "ascii title? no: this one is not"},
		{"", ""},
		{"zzz", "the last row, lag"},
	}
	build := func(ftsOnly bool, skip int) (*tailTokens, []postingRow) {
		tk := newTailTokens(100, 100+int64(len(rows)), ftsOnly)
		t.Cleanup(tk.close)
		for k, row := range rows {
			if k == skip {
				continue
			}
			if err := tk.add(ctx, 101+int64(k), []byte(row[0]), []byte(row[1])); err != nil {
				t.Fatal(err)
			}
		}
		if err := tk.finish(ctx); err != nil {
			t.Fatal(err)
		}
		var out []postingRow
		if err := tk.postings(ctx, 1, func(p postingRow) error { out = append(out, p); return nil }); err != nil {
			t.Fatal(err)
		}
		return tk, out
	}
	for _, skip := range []int{-1, 1} {
		fts, want := build(true, skip)
		tk, got := build(false, skip)
		if fts.tt == nil || tk.tt == nil || len(tk.terms) == 0 {
			t.Fatalf("FTS5 table %v (ftsOnly), %v (mixed); %d terms in Go", fts.tt != nil, tk.tt != nil, len(tk.terms))
		}
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(tk.size, fts.size) || tk.docs != fts.docs || tk.tokens != fts.tokens {
			t.Fatalf("mixed: %v %v %d %d\nFTS5: %v %v %d %d", got, tk.size, tk.docs, tk.tokens, want, fts.size, fts.docs, fts.tokens)
		}
		if len(want) < 10 || fts.docs != int64(len(rows)) && skip < 0 {
			t.Fatalf("%d lists, %d rows", len(want), fts.docs)
		}
	}
	// Pure ASCII: no FTS5 table at all.
	tk := newTailTokens(0, 2, false)
	defer tk.close()
	if err := tk.add(ctx, 1, []byte("Plain"), []byte("ascii text, plain")); err != nil {
		t.Fatal(err)
	}
	if err := tk.finish(ctx); err != nil {
		t.Fatal(err)
	}
	var terms []string
	if err := tk.postings(ctx, 0, func(p postingRow) error { terms = append(terms, p.term); return nil }); err != nil {
		t.Fatal(err)
	}
	if tk.tt != nil || strings.Join(terms, " ") != "ascii plain text" || tk.size[0] != 4 {
		t.Fatalf("pure ASCII: FTS5 table %v, terms %q, size %d", tk.tt != nil, terms, tk.size[0])
	}
}
