package sqlite

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/contextd/contextd"
)

// topkWordsList has stem variants (FTS5's porter stemmer folds them), stop
// words and plain words, so that queries hit the same terms different ways.
var topkWordsList = strings.Fields(`run runs running runner connect connected connection connections
	fish fishing fished graph graphs database databases index indexing indexed alpha beta gamma
	delta epsilon zeta theta kappa lambda sigma omega the and of cafe café naive naïve rapid
	rapidly storage stored storing latency queue queued queues`)

type topkDoc struct {
	id, title, content, typ, user string
	created                       time.Time
}

func topkText(r *rand.Rand, n int) string {
	w := make([]string, n)
	for i := range w {
		// a skewed pick: early words are common
		w[i] = topkWordsList[int(math.Pow(r.Float64(), 2)*float64(len(topkWordsList)))]
	}
	return strings.Join(w, " ")
}

func topkItem(r *rand.Rand) contextd.ContextCreate {
	return contextd.ContextCreate{
		Title:   topkText(r, 1+r.IntN(5)),
		Content: topkText(r, r.IntN(60)),
		Type:    []string{"note", "decision"}[r.IntN(2)],
		Status:  contextd.StatusActive,
		UserID:  []string{"u1", "u2"}[r.IntN(2)],
	}
}

func openTopK(t *testing.T) *Store {
	t.Helper()
	// A threshold no tenant reaches: the background builder stays idle and
	// the tests build segments when they choose.
	s, err := Open(context.Background(), t.TempDir(), Options{TopKMinContexts: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func topkCreate(t *testing.T, s *Store, tenant string, r *rand.Rand, n int, docs map[string]*topkDoc) {
	t.Helper()
	items := make([]contextd.ContextCreate, n)
	for i := range items {
		items[i] = topkItem(r)
	}
	cs, err := s.CreateContexts(context.Background(), contextd.Scope{Tenant: tenant}, items)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if docs != nil {
			docs[c.ID] = &topkDoc{c.ID, c.Title, c.Content, c.Type, c.UserID, c.CreatedAt}
		}
	}
}

func topkQuery(r *rand.Rand) string {
	n := 1 + r.IntN(4)
	w := make([]string, n)
	for i := range w {
		w[i] = topkWordsList[r.IntN(len(topkWordsList))]
	}
	if r.IntN(10) == 0 {
		w = append(w, "zzznotaword")
	}
	return strings.Join(w, " ")
}

func sameHits(t *testing.T, what string, got, want *contextd.SearchResult) {
	t.Helper()
	if got.Total != want.Total {
		t.Fatalf("%s: total %d, want %d", what, got.Total, want.Total)
	}
	if len(got.Results) != len(want.Results) {
		t.Fatalf("%s: %d results, want %d", what, len(got.Results), len(want.Results))
	}
	for i := range got.Results {
		g, w := got.Results[i], want.Results[i]
		if g.Context.ID != w.Context.ID || math.Abs(g.Score-w.Score) > 1e-9*math.Max(1, math.Abs(w.Score)) {
			t.Fatalf("%s: result %d is %s (%.12g), want %s (%.12g)", what, i, g.Context.ID, g.Score, w.Context.ID, w.Score)
		}
	}
}

// TestTopKMatchesFTS5: with one tenant in its shard, FTS5's statistics are
// the tenant's, so the index must give the FTS5 path's answers exactly:
// same rows, order, scores, totals, pages and highlights.
func TestTopKMatchesFTS5(t *testing.T) {
	s := openTopK(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	sc := contextd.Scope{Tenant: "solo"}
	topkCreate(t, s, "solo", r, 600, nil)
	if err := BuildTopKForTest(s, "solo"); err != nil {
		t.Fatal(err)
	}
	sameAsFTS5(t, s, "solo", r, 150) // topk_tail_test.go
	// Not served: phrases, prefixes, exclusions, facets.
	for _, q := range []contextd.SearchQuery{
		{Query: `"fish graph"`}, {Query: "fis*"}, {Query: "fish -graph"}, {Query: "fish", Facets: []string{"type"}},
	} {
		before := s.topk.served.Load()
		if _, err := s.SearchContexts(ctx, sc, q); err != nil {
			t.Fatal(err)
		}
		if s.topk.served.Load() != before {
			t.Fatalf("%+v: served by the top-k index", q)
		}
	}
}

// BuildTopKForTest builds the tenant's segment.
func BuildTopKForTest(s *Store, tenant string) error { return BuildTopK(s, tenant) }

// oracle ranks the tenant's documents for words by the segments' summed
// statistics (base and tails), from the texts themselves (tokenized by FTS5).
func oracle(t *testing.T, s *Store, tenant string, docs map[string]*topkDoc, words []string, keep func(*topkDoc) bool) []match2 {
	t.Helper()
	ctx := context.Background()
	var (
		g   *topkView
		r   pkRange
		dfs = map[string]int64{}
	)
	err := s.read(ctx, "oracle", func(tx *conn) error {
		var err error
		if r, err = s.tenantRange(ctx, tx, tenant); err != nil {
			return err
		}
		var ok bool
		if g, ok, err = loadView(ctx, tx, r.lo>>pkBits); err != nil || !ok {
			return fmt.Errorf("no segment (%v)", err)
		}
		// The statistics are the sums over the base and its tails.
		for _, gen := range g.gens() {
			if err := func() error {
				rows, err := tx.QueryContext(ctx, `SELECT term, df FROM topk_postings WHERE part = ? AND gen = ?`, g.part, gen)
				if err != nil {
					return err
				}
				defer rows.Close()
				for rows.Next() {
					var term string
					var df int64
					if err := rows.Scan(&term, &df); err != nil {
						return err
					}
					dfs[term] += df
				}
				return rows.Err()
			}(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var terms []string
	for _, w := range contextd.ParseQuery(strings.Join(words, " ")).Positive() {
		toks, err := s.topkTermsOf(ctx, w.Words[0])
		if err != nil || len(toks) != 1 {
			t.Fatalf("tokens of %q: %v %v", w.Words[0], toks, err)
		}
		terms = append(terms, toks[0])
	}
	var out []match2
	for _, d := range docs {
		if keep != nil && !keep(d) {
			continue
		}
		tt, err := s.topkTermsOf(ctx, d.title)
		if err != nil {
			t.Fatal(err)
		}
		ct, err := s.topkTermsOf(ctx, d.content)
		if err != nil {
			t.Fatal(err)
		}
		var score float64
		hit := false
		for _, term := range terms {
			var w float64
			for _, x := range tt {
				if x == term {
					w += titleWeight
				}
			}
			for _, x := range ct {
				if x == term {
					w += contentWeight
				}
			}
			if w > 0 {
				hit = true
				score += bm25IDF(g.docs, dfs[term]) * bm25TF(w, float64(len(tt)+len(ct)), g.avgdl())
			}
		}
		if hit {
			out = append(out, match2{d, score})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if math.Abs(a.score-b.score) > 1e-9*math.Abs(a.score) {
			return a.score > b.score
		}
		if !a.d.created.Equal(b.d.created) {
			return a.d.created.After(b.d.created)
		}
		return a.d.id > b.d.id
	})
	return out
}

type match2 struct {
	d     *topkDoc
	score float64
}

func checkOracle(t *testing.T, s *Store, tenant string, docs map[string]*topkDoc, r *rand.Rand, rounds int) {
	t.Helper()
	ctx := context.Background()
	for range rounds {
		qs := topkQuery(r)
		q := contextd.SearchQuery{Query: qs, Limit: 1 + r.IntN(20), Offset: r.IntN(3) * 5}
		var keep func(*topkDoc) bool
		if r.IntN(3) == 0 {
			q.Filters.Types = []string{"decision"}
			keep = func(d *topkDoc) bool { return d.typ == "decision" }
		}
		before := s.topk.served.Load()
		got, err := s.SearchContexts(ctx, contextd.Scope{Tenant: tenant}, q)
		if err != nil {
			t.Fatal(err)
		}
		if s.topk.served.Load() != before+1 {
			t.Fatalf("query %q: not served by the top-k index", qs)
		}
		want := oracle(t, s, tenant, docs, strings.Fields(qs), keep)
		if got.Total != len(want) {
			t.Fatalf("query %q: total %d, want %d", qs, got.Total, len(want))
		}
		all := want
		want = want[min(q.Offset, len(want)):min(q.Offset+q.Limit, len(want))]
		if len(got.Results) != len(want) {
			t.Fatalf("query %q: %d results, want %d", qs, len(got.Results), len(want))
		}
		near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
		for i, h := range got.Results {
			if docs[h.Context.ID] == nil {
				t.Fatalf("query %q: %s is not the tenant's (or was deleted)", qs, h.Context.ID)
			}
			if h.Context.ID == want[i].d.id && near(h.Score, want[i].score) {
				continue
			}
			// Rows whose scores tie up to rounding (the same lengths and
			// hits, one scored from a segment and one from FTS5) may come
			// in either order, across a page's edge too.
			tied := false
			for _, m := range all {
				tied = tied || (m.d.id == h.Context.ID && near(m.score, want[i].score) && near(h.Score, m.score))
			}
			if !tied {
				t.Fatalf("query %q: result %d is %s (%.12g), want %s (%.12g)", qs, i, h.Context.ID, h.Score, want[i].d.id, want[i].score)
			}
		}
	}
}

// TestTopKFreshRowsAndTenants: rows added, changed and deleted after the
// segment was built are answered from FTS5 and scored like the segment's;
// another tenant of the same shard is never seen; a rebuild takes them in
// and clears the dirty records.
func TestTopKFreshRowsAndTenants(t *testing.T) {
	s := openTopK(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	docs := map[string]*topkDoc{}
	topkCreate(t, s, "t01", r, 300, docs)
	for i := 2; i <= 17; i++ { // partitions 2..17: t17 shares t01's shard
		topkCreate(t, s, fmt.Sprintf("t%02d", i), r, 60, nil)
	}
	if shardOf(rangeOf(1).lo) != shardOf(rangeOf(17).lo) {
		t.Fatal("t01 and t17 should share a shard")
	}
	if err := BuildTopK(s, "t01"); err != nil {
		t.Fatal(err)
	}
	checkOracle(t, s, "t01", docs, r, 60)

	// Changes after the build.
	sc := contextd.Scope{Tenant: "t01"}
	topkCreate(t, s, "t01", r, 40, docs)
	topkCreate(t, s, "t17", r, 40, nil)
	ids := make([]string, 0, len(docs))
	for id := range docs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for i, id := range ids[:60] {
		if i < 20 {
			if err := s.DeleteContext(ctx, sc, id); err != nil {
				t.Fatal(err)
			}
			delete(docs, id)
			continue
		}
		title, content := topkText(r, 1+r.IntN(4)), topkText(r, r.IntN(40))
		c, err := s.UpdateContext(ctx, sc, id, contextd.ContextUpdate{Title: &title, Content: &content})
		if err != nil {
			t.Fatal(err)
		}
		docs[id].title, docs[id].content = c.Title, c.Content
	}
	var dirty int
	if err := s.read(ctx, "test", func(tx *conn) error {
		return tx.QueryRowContext(ctx, `SELECT count(*) FROM topk_dirty`).Scan(&dirty)
	}); err != nil {
		t.Fatal(err)
	}
	if dirty != 60 {
		t.Fatalf("%d dirty records, want 60", dirty)
	}
	checkOracle(t, s, "t01", docs, r, 60)

	// A rebuild takes them in.
	if err := BuildTopK(s, "t01"); err != nil {
		t.Fatal(err)
	}
	if err := s.read(ctx, "test", func(tx *conn) error {
		return tx.QueryRowContext(ctx, `SELECT count(*) FROM topk_dirty`).Scan(&dirty)
	}); err != nil {
		t.Fatal(err)
	}
	if dirty != 0 {
		t.Fatalf("%d dirty records after the rebuild, want 0", dirty)
	}
	var gens int
	if err := s.read(ctx, "test", func(tx *conn) error {
		return tx.QueryRowContext(ctx, `SELECT count(DISTINCT gen) FROM topk_postings`).Scan(&gens)
	}); err != nil {
		t.Fatal(err)
	}
	if gens != 1 {
		t.Fatalf("%d generations of postings kept, want 1", gens)
	}
	checkOracle(t, s, "t01", docs, r, 60)
}

func TestPostingsRoundTrip(t *testing.T) {
	lo := rangeOf(3).lo
	pks := []int64{lo + 1, lo + 2, lo + 300, lo + 1<<20}
	w, d := []uint32{4, 1, 9, 200}, []uint32{10, 1, 5000, 70000}
	p, err := decodePostings(encodePostings(nil, lo, pks, w, d), lo, 50)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pks {
		if p.pks[i] != pks[i] || p.tf[i] != bm25TF(float64(w[i]), float64(d[i]), 50) {
			t.Fatalf("posting %d: %d %g", i, p.pks[i], p.tf[i])
		}
	}
	b := encodePostings(nil, lo, pks, w, d)
	for _, bad := range [][]byte{b[:len(b)-1], append(b, 0), {0xff}} {
		if _, err := decodePostings(bad, lo, 50); err == nil {
			t.Fatalf("%x: decoded", bad)
		}
	}
	if v, n := sqliteVarint([]byte{0x81, 0x00}); v != 128 || n != 2 {
		t.Fatalf("varint: %d %d", v, n)
	}
}
