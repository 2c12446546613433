package sqlite

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/contextd/contextd"
)

// partOf returns the tenant's partition.
func partOf(t *testing.T, s *Store, tenant string) int64 {
	t.Helper()
	var r pkRange
	if err := s.read(context.Background(), "test", func(tx *conn) error {
		var err error
		r, err = s.tenantRange(context.Background(), tx, tenant)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return r.lo >> pkBits
}

// viewOf returns the partition's view.
func viewOf(t *testing.T, s *Store, part int64) *topkView {
	t.Helper()
	var v *topkView
	if err := s.read(context.Background(), "test", func(tx *conn) error {
		var ok bool
		var err error
		v, ok, err = loadView(context.Background(), tx, part)
		if err == nil && !ok {
			err = errors.New("no view")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

// tailAfter builds a tail of the rows above from, and says so.
func tailAfter(t *testing.T, s *Store, part, from int64) {
	t.Helper()
	built, err := s.buildTail(context.Background(), part, from)
	if err != nil {
		t.Fatal(err)
	}
	if !built {
		t.Fatal("no tail built")
	}
}

// mergeAfter concatenates the tails above from, and says so.
func mergeAfter(t *testing.T, s *Store, part, from int64) {
	t.Helper()
	merged, err := s.mergeTails(context.Background(), part, from)
	if err != nil {
		t.Fatal(err)
	}
	if !merged {
		t.Fatal("no tails merged")
	}
}

// queryInt runs a one-number query on a read snapshot.
func queryInt(t *testing.T, s *Store, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := s.read(context.Background(), "test", func(tx *conn) error {
		return tx.QueryRowContext(context.Background(), q, args...).Scan(&n)
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// sameAsFTS5 runs queries on the index and on the FTS5 path and wants the
// same answers (rows, order, scores, totals, highlights): right when every
// row of the tenant, alone in its shard, is in a segment unchanged.
func sameAsFTS5(t *testing.T, s *Store, tenant string, r *rand.Rand, n int) {
	t.Helper()
	ctx := context.Background()
	sc := contextd.Scope{Tenant: tenant}
	cols := s.topk.colsHit.Load()
	for i := range n {
		q := contextd.SearchQuery{Query: topkQuery(r), Limit: 1 + r.IntN(20), Offset: r.IntN(3) * 7, Highlight: i%5 == 0}
		switch i % 3 {
		case 1:
			q.Filters.Types = []string{"note"}
		case 2:
			q.Filters.UserID = "u2"
		}
		before := s.topk.served.Load()
		got, err := s.SearchContexts(ctx, sc, q)
		if err != nil {
			t.Fatal(err)
		}
		if s.topk.served.Load() != before+1 {
			t.Fatalf("query %q: not served by the top-k index", q.Query)
		}
		s.topk.off.Store(true)
		want, err := s.SearchContexts(ctx, sc, q)
		s.topk.off.Store(false)
		if err != nil {
			t.Fatal(err)
		}
		sameHits(t, fmt.Sprintf("query %q %+v", q.Query, q.Filters), got, want)
		for j := range got.Results {
			if fmt.Sprint(got.Results[j].Highlights) != fmt.Sprint(want.Results[j].Highlights) {
				t.Fatalf("query %q: highlights %v, want %v", q.Query, got.Results[j].Highlights, want.Results[j].Highlights)
			}
		}
	}
	if n >= 3 && s.topk.colsHit.Load() == cols {
		t.Fatal("no filtered search used the filter columns")
	}
}

// changeSome updates and deletes random rows of docs (base and tails
// alike) and creates a few.
func changeSome(t *testing.T, s *Store, tenant string, r *rand.Rand, docs map[string]*topkDoc, n int) {
	t.Helper()
	ctx := context.Background()
	sc := contextd.Scope{Tenant: tenant}
	ids := make([]string, 0, len(docs))
	for id := range docs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	for i, id := range ids[:n] {
		if i%3 == 0 {
			if err := s.DeleteContext(ctx, sc, id); err != nil {
				t.Fatal(err)
			}
			delete(docs, id)
			continue
		}
		title, content := topkText(r, 1+r.IntN(4)), topkText(r, r.IntN(40))
		typ := []string{"note", "decision"}[r.IntN(2)]
		c, err := s.UpdateContext(ctx, sc, id, contextd.ContextUpdate{Title: &title, Content: &content, Type: &typ})
		if err != nil {
			t.Fatal(err)
		}
		docs[id].title, docs[id].content, docs[id].typ = c.Title, c.Content, c.Type
	}
	topkCreate(t, s, tenant, r, n/2, docs)
}

// TestTopKTails: tails built from new rows and merged give exactly the
// FTS5 path's answers (and a whole rebuild's) while no row of a segment
// changed; with rows changed, added and deleted across tails, merges and
// rebuilds, the answers are the oracle's over the segments' statistics; a
// merge clears the changed rows of the tails it replaces, and only the
// view's generations of postings are kept.
func TestTopKTails(t *testing.T) {
	s := openTopK(t)
	r := rand.New(rand.NewPCG(5, 6))
	docs := map[string]*topkDoc{}
	topkCreate(t, s, "solo", r, 300, docs)
	if err := BuildTopK(s, "solo"); err != nil {
		t.Fatal(err)
	}
	part := partOf(t, s, "solo")
	gensKept := func() {
		t.Helper()
		v := viewOf(t, s, part)
		if n := queryInt(t, s, `SELECT count(DISTINCT gen) FROM topk_postings WHERE part = ?`, part); n != int64(len(v.segs)) {
			t.Fatalf("%d generations of postings kept, the view has %d segments", n, len(v.segs))
		}
	}
	// New rows only: tails, then merges of the newest tails.
	for round := range 7 {
		topkCreate(t, s, "solo", r, 20+r.IntN(60), docs)
		v := viewOf(t, s, part)
		if round%3 == 2 {
			tails := v.tails()
			k := r.IntN(len(tails))
			tailAfter(t, s, part, tails[k].lo-1) // merges tails k.. and the new rows
			if got := len(viewOf(t, s, part).tails()); got != k+1 {
				t.Fatalf("merge: %d tails, want %d", got, k+1)
			}
		} else if round%3 == 1 {
			tailAfter(t, s, part, v.watermark)
			tails := viewOf(t, s, part).tails()
			k := r.IntN(len(tails) - 1)
			mergeAfter(t, s, part, tails[k].lo-1) // concatenates tails k..
			if got := len(viewOf(t, s, part).tails()); got != k+1 {
				t.Fatalf("merge: %d tails, want %d", got, k+1)
			}
		} else {
			tailAfter(t, s, part, v.watermark)
		}
		gensKept()
		sameAsFTS5(t, s, "solo", r, 15)
	}
	if n := len(viewOf(t, s, part).tails()); n < 2 {
		t.Fatalf("%d tails", n)
	}
	// The same answers as a whole rebuild.
	var queries []contextd.SearchQuery
	var before []*contextd.SearchResult
	for i := range 40 {
		q := contextd.SearchQuery{Query: topkQuery(r), Limit: 1 + r.IntN(20), Offset: r.IntN(3) * 7}
		if i%2 == 1 {
			q.Filters.Types = []string{"decision"}
		}
		res, err := s.SearchContexts(context.Background(), contextd.Scope{Tenant: "solo"}, q)
		if err != nil {
			t.Fatal(err)
		}
		queries, before = append(queries, q), append(before, res)
	}
	if err := BuildTopK(s, "solo"); err != nil {
		t.Fatal(err)
	}
	if n := len(viewOf(t, s, part).tails()); n != 0 {
		t.Fatalf("%d tails after a whole build", n)
	}
	gensKept()
	for i, q := range queries {
		res, err := s.SearchContexts(context.Background(), contextd.Scope{Tenant: "solo"}, q)
		if err != nil {
			t.Fatal(err)
		}
		sameHits(t, fmt.Sprintf("query %q after the rebuild", q.Query), res, before[i])
	}
	// Changes everywhere, tails, merges: the oracle.
	for round := range 6 {
		changeSome(t, s, "solo", r, docs, 30)
		checkOracle(t, s, "solo", docs, r, 20)
		v := viewOf(t, s, part)
		switch round % 3 {
		case 1: // concatenate every tail: their changed rows stay recorded
			tailAfter(t, s, part, v.watermark)
			if len(viewOf(t, s, part).tails()) >= 2 {
				mergeAfter(t, s, part, v.base().watermark)
			}
		case 2: // merge every tail: their changed rows are cleared
			tailAfter(t, s, part, v.base().watermark)
			v = viewOf(t, s, part)
			if n := queryInt(t, s, `SELECT count(*) FROM topk_dirty WHERE pk > ?`, v.base().watermark); n != 0 {
				t.Fatalf("%d changed rows of tails after merging them all", n)
			}
		default:
			tailAfter(t, s, part, v.watermark)
		}
		gensKept()
		checkOracle(t, s, "solo", docs, r, 20)
	}
	rep, err := s.Check(context.Background(), contextd.CheckOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("check: %+v", rep.Items)
	}
	// A whole build takes everything in: the FTS5 path's answers again.
	if err := BuildTopK(s, "solo"); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, s, `SELECT count(*) FROM topk_dirty`); n != 0 {
		t.Fatalf("%d dirty records after a whole build", n)
	}
	gensKept()
	sameAsFTS5(t, s, "solo", r, 30)
}

// TestTopKTailPlan: the policy. New rows make a tail due; tails of one level
// are merged tailFanout at a time; a whole build when the tails reach half
// the base.
func TestTopKTailPlan(t *testing.T) {
	s := openTopK(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 8))
	topkCreate(t, s, "p", r, 2200, nil)
	if err := BuildTopK(s, "p"); err != nil {
		t.Fatal(err)
	}
	part := partOf(t, s, "p")
	plan := func() topkPlan {
		t.Helper()
		p, err := s.topkPlanOf(ctx, part)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := plan(); p.kind != buildNone {
		t.Fatalf("nothing new: %+v", p)
	}
	for range tailFanout - 1 {
		topkCreate(t, s, "p", r, 10, nil)
		tailAfter(t, s, part, viewOf(t, s, part).watermark)
		if p := plan(); p.kind != buildNone {
			t.Fatalf("%d small tails: %+v", len(viewOf(t, s, part).tails()), p)
		}
	}
	topkCreate(t, s, "p", r, 10, nil)
	tailAfter(t, s, part, viewOf(t, s, part).watermark)
	v := viewOf(t, s, part)
	if p := plan(); p.kind != buildMerge || p.from != v.base().watermark {
		t.Fatalf("%d tails of level 0: %+v, want a merge after %d", len(v.tails()), p, v.base().watermark)
	}
	mergeAfter(t, s, part, v.base().watermark)
	if n := len(viewOf(t, s, part).tails()); n != 1 {
		t.Fatalf("%d tails after the merge", n)
	}
	topkCreate(t, s, "p", r, tailRows, nil)
	v = viewOf(t, s, part)
	if p := plan(); p.kind != buildTail || p.from != v.watermark {
		t.Fatalf("%d new rows: %+v, want a tail after %d", tailRows, p, v.watermark)
	}
	tailAfter(t, s, part, v.watermark)
	topkCreate(t, s, "p", r, 100, nil)
	if p := plan(); p.kind != buildWhole {
		t.Fatalf("tails of %d rows over a base of %d: %+v, want a whole build", viewOf(t, s, part).tailPks, v.base().docs, p)
	}
	for span, want := range map[int64]int{1: 0, tailRows*tailFanout - 1: 0, tailRows * tailFanout: 1, tailRows*tailFanout*tailFanout - 1: 1, tailRows * tailFanout * tailFanout: 2} {
		if got := tailLevel(segment{lo: 1, watermark: span}); got != want {
			t.Fatalf("level of %d rows: %d, want %d", span, got, want)
		}
	}
}

// TestTopKTailCrash: a build (tail, merge or whole) stopped after each of
// its steps, and the store closed and opened again, leaves an index that
// answers right and checks clean; the next build finishes and clears what
// the stopped one left.
func TestTopKTailCrash(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []string{"tail", "merge", "concat", "whole"} {
		for _, step := range []string{"start", "postings", "switch"} {
			t.Run(kind+"/"+step, func(t *testing.T) {
				dir := t.TempDir()
				open := func() *Store {
					s, err := Open(ctx, dir, Options{TopKMinContexts: 1 << 30})
					if err != nil {
						t.Fatal(err)
					}
					return s
				}
				s := open()
				defer func() { s.Close() }()
				r := rand.New(rand.NewPCG(9, uint64(len(kind)*10+len(step))))
				docs := map[string]*topkDoc{}
				topkCreate(t, s, "c", r, 200, docs)
				if err := BuildTopK(s, "c"); err != nil {
					t.Fatal(err)
				}
				part := partOf(t, s, "c")
				for range 2 {
					topkCreate(t, s, "c", r, 30, docs)
					tailAfter(t, s, part, viewOf(t, s, part).watermark)
				}
				changeSome(t, s, "c", r, docs, 30)
				stop := errors.New("stopped")
				s.topk.hook = func(at string) error {
					if at == step {
						return stop
					}
					return nil
				}
				v := viewOf(t, s, part)
				var err error
				switch kind {
				case "tail":
					_, err = s.buildTail(ctx, part, v.watermark)
				case "merge":
					_, err = s.buildTail(ctx, part, v.base().watermark)
				case "concat":
					_, err = s.mergeTails(ctx, part, v.base().watermark)
				default:
					err = s.buildTopK(ctx, part)
				}
				if !errors.Is(err, stop) {
					t.Fatalf("build: %v, want it stopped", err)
				}
				s.Close()
				s = open()
				rep, err := s.Check(ctx, contextd.CheckOptions{Full: true})
				if err != nil {
					t.Fatal(err)
				}
				if !rep.OK {
					t.Fatalf("check after the stop: %+v", rep.Items)
				}
				checkOracle(t, s, "c", docs, r, 25)
				// The next build finishes and keeps only the view's postings.
				topkCreate(t, s, "c", r, 10, docs)
				tailAfter(t, s, part, viewOf(t, s, part).watermark)
				v = viewOf(t, s, part)
				if n := queryInt(t, s, `SELECT count(DISTINCT gen) FROM topk_postings WHERE part = ?`, part); n != int64(len(v.segs)) {
					t.Fatalf("%d generations of postings kept, the view has %d segments", n, len(v.segs))
				}
				if g := queryInt(t, s, `SELECT max(gen) FROM topk_postings WHERE part = ?`, part); g < queryInt(t, s, `SELECT next_gen FROM topk_segments WHERE part = ?`, part) {
					t.Fatalf("generation %d reused", g)
				}
				checkOracle(t, s, "c", docs, r, 25)
			})
		}
	}
}

// TestCheckTopKTail: the check reads tails too: a damaged list of a tail, a
// tail's rows deleted behind the store's back, and tails that no longer
// follow each other are reported.
func TestCheckTopKTail(t *testing.T) {
	ctx := context.Background()
	s := openTopK(t)
	r := rand.New(rand.NewPCG(11, 12))
	topkCreate(t, s, "k", r, 150, nil)
	if err := BuildTopK(s, "k"); err != nil {
		t.Fatal(err)
	}
	part := partOf(t, s, "k")
	for range 2 {
		topkCreate(t, s, "k", r, 40, nil)
		tailAfter(t, s, part, viewOf(t, s, part).watermark)
	}
	v := viewOf(t, s, part)
	item := func(rep *contextd.CheckReport, name string) *contextd.CheckItem {
		for i := range rep.Items {
			if rep.Items[i].Name == name {
				return &rep.Items[i]
			}
		}
		t.Fatalf("no item %q: %+v", name, rep.Items)
		return nil
	}
	check := func() *contextd.CheckReport {
		rep, err := s.Check(ctx, contextd.CheckOptions{Full: true})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := check()
	if it := item(rep, "top-k index rows"); !rep.OK || it.Indexed != v.docs {
		t.Fatalf("healthy store: %+v", rep.Items)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if err := s.write(ctx, "test", func(tx *conn) error {
			_, err := tx.ExecContext(ctx, q, args...)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	tail := v.tails()[1]
	exec(`UPDATE topk_postings SET postings = x'05' WHERE part = ? AND gen = ? AND term = (SELECT min(term) FROM topk_postings WHERE part = ? AND gen = ?)`,
		part, tail.gen, part, tail.gen)
	if it := item(check(), "top-k index postings"); it.OK || !strings.Contains(it.Detail, fmt.Sprintf("tail [%d, %d]", tail.lo&pkMask, tail.watermark&pkMask)) {
		t.Fatalf("damaged tail list not reported: %+v", it)
	}
	exec(`DELETE FROM contexts WHERE pk = ?`, tail.watermark)
	if it := item(check(), "top-k index rows"); it.OK || !strings.Contains(it.Detail, "tail [") {
		t.Fatalf("a tail's row deleted behind its back not reported: %+v", it)
	}
	exec(`UPDATE topk_tails SET lo = lo + 1 WHERE part = ? AND gen = ?`, part, tail.gen)
	if it := item(check(), "top-k index rows"); it.OK || !strings.Contains(it.Detail, "does not follow") {
		t.Fatalf("a gap between tails not reported: %+v", it)
	}
	// A whole build makes it whole again.
	if err := BuildTopK(s, "k"); err != nil {
		t.Fatal(err)
	}
	// (The FTS5 index and the change log still hold the row deleted behind
	// their backs.)
	rep = check()
	for _, name := range []string{"top-k index rows", "top-k index postings", "top-k index filter columns"} {
		if it := item(rep, name); !it.OK {
			t.Fatalf("after a rebuild: %+v", it)
		}
	}
}

// TestTopKTailsBesideWholeBuild: tails built while a whole build runs stop
// at its pending watermark or start above it, so that its switch replaces
// the tails up to it and keeps the others; a tail whose rows a whole build
// took in meanwhile is dropped, not switched to.
func TestTopKTailsBesideWholeBuild(t *testing.T) {
	ctx := context.Background()
	s := openTopK(t)
	r := rand.New(rand.NewPCG(13, 14))
	docs := map[string]*topkDoc{}
	topkCreate(t, s, "w", r, 200, docs)
	if err := BuildTopK(s, "w"); err != nil {
		t.Fatal(err)
	}
	part := partOf(t, s, "w")
	topkCreate(t, s, "w", r, 30, docs)
	tailAfter(t, s, part, viewOf(t, s, part).watermark)
	topkCreate(t, s, "w", r, 20, docs) // below the whole build's watermark
	var p int64
	inside := false
	s.topk.hook = func(step string) error {
		if step != "start" || inside {
			return nil
		}
		inside = true
		defer func() { inside = false }()
		p = queryInt(t, s, `SELECT max(pk) FROM contexts`)
		topkCreate(t, s, "w", r, 25, docs) // above it
		v := viewOf(t, s, part)
		tailAfter(t, s, part, v.watermark) // stops at p
		if got := viewOf(t, s, part).watermark; got != p {
			t.Errorf("a tail beside the whole build ends at %d, want %d", got, p)
		}
		tailAfter(t, s, part, p)
		topkCreate(t, s, "w", r, 10, docs)
		tailAfter(t, s, part, viewOf(t, s, part).watermark)
		tailAfter(t, s, part, p) // a merge above p
		topkCreate(t, s, "w", r, 5, docs)
		tailAfter(t, s, part, viewOf(t, s, part).watermark)
		if merged, err := s.mergeTails(ctx, part, v.base().watermark); err != nil || merged {
			t.Errorf("tails below p concatenated beside the whole build: %v %v", merged, err)
		}
		mergeAfter(t, s, part, p)
		// A merge from below p stops at p too, and keeps the tails above.
		tailAfter(t, s, part, v.base().watermark)
		if n := len(viewOf(t, s, part).tails()); n != 2 {
			t.Errorf("%d tails, want 2 (up to p, above p)", n)
		}
		return nil
	}
	if err := s.buildTopK(ctx, part); err != nil {
		t.Fatal(err)
	}
	s.topk.hook = nil
	v := viewOf(t, s, part)
	if v.base().watermark != p || len(v.tails()) != 1 || v.tails()[0].lo != p+1 {
		t.Fatalf("after the whole build: base up to %d, tails %+v; want base up to %d and one tail above", v.base().watermark, v.tails(), p)
	}
	if n := queryInt(t, s, `SELECT count(DISTINCT gen) FROM topk_postings WHERE part = ?`, part); n != 2 {
		t.Fatalf("%d generations of postings, want 2", n)
	}
	sameAsFTS5(t, s, "w", r, 20)
	checkOracle(t, s, "w", docs, r, 10)

	// A tail started before a whole build that switches first: dropped.
	topkCreate(t, s, "w", r, 15, docs)
	s.topk.hook = func(step string) error {
		if step != "start" || inside {
			return nil
		}
		inside = true
		defer func() { inside = false }()
		return s.buildTopK(ctx, part)
	}
	built, err := s.buildTail(ctx, part, viewOf(t, s, part).watermark)
	s.topk.hook = nil
	if err != nil || built {
		t.Fatalf("superseded tail: built %v, %v", built, err)
	}
	v = viewOf(t, s, part)
	if len(v.tails()) != 0 || v.watermark != queryInt(t, s, `SELECT max(pk) FROM contexts`) {
		t.Fatalf("after the whole build: %+v", v)
	}
	if n := queryInt(t, s, `SELECT count(DISTINCT gen) FROM topk_postings WHERE part = ?`, part); n != 1 {
		t.Fatalf("%d generations of postings, want 1", n)
	}
	sameAsFTS5(t, s, "w", r, 20)
	rep, err := s.Check(ctx, contextd.CheckOptions{Full: true})
	if err != nil || !rep.OK {
		t.Fatalf("check: %+v %v", rep, err)
	}
}

// TestTailVocabularyDirect: a tail's tokens are read on the C API, and give
// the lists the driver's way gives.
func TestTailVocabularyDirect(t *testing.T) {
	ctx := context.Background()
	tt, err := newTailTokenizer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tt.close()
	for pk, row := range [][2]string{{"Replication lag", "the replica lags behind the primary"}, {"Primary", "replicating replicas, lag"}} {
		if _, err := tt.c.ExecContext(ctx, `INSERT INTO t (rowid, title, content) VALUES (?, ?, ?)`, pk+10, row[0], row[1]); err != nil {
			t.Fatal(err)
		}
	}
	size := func(pk int64) uint32 { return uint32(pk) }
	collect := func(direct bool) []postingRow {
		var out []postingRow
		emit := func(p postingRow) error { out = append(out, p); return nil }
		if !direct {
			rows, err := tt.c.QueryContext(ctx, `SELECT term, doc, col FROM v`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			if err := collectPostings(rows, 1, size, emit); err != nil {
				t.Fatal(err)
			}
			return out
		}
		pc := postingCollector{lo: 1, size: size, emit: emit}
		err := tt.cc.queryRows(ctx, `SELECT term, doc, col FROM v`, nil, func(row rowReader) error {
			term, _ := row.str(0)
			pk, _ := row.int(1)
			col, _ := row.str(2)
			return pc.add(term, pk, col == "title")
		})
		if err == nil {
			err = pc.flush()
		}
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	viaDriver, direct := collect(false), collect(true)
	if tt.cc.direct.off || tt.cc.direct.stmts[`SELECT term, doc, col FROM v`] == nil {
		t.Fatal("the vocabulary was not read on the C API")
	}
	if len(direct) < 5 || !reflect.DeepEqual(direct, viaDriver) {
		t.Fatalf("direct %v\ndriver %v", direct, viaDriver)
	}
}

// BenchmarkTailVocabulary reads the tokens of 1,000 contexts of ~1 KB (a
// tail) both ways: through the driver and on the C API.
func BenchmarkTailVocabulary(b *testing.B) {
	ctx := context.Background()
	tt, err := newTailTokenizer(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer tt.close()
	words := strings.Fields("replica lag primary quorum leader follower commit index segment merge vocabulary token posting tenant search rank score write read cache page")
	for pk := 1; pk <= 1000; pk++ {
		var sb strings.Builder
		for i := range 160 {
			sb.WriteString(words[(pk*7+i*i)%len(words)])
			sb.WriteString(fmt.Sprintf("%d ", (pk+i)%97))
		}
		if _, err := tt.c.ExecContext(ctx, `INSERT INTO t (rowid, title, content) VALUES (?, ?, ?)`, pk, "title of "+words[pk%len(words)], sb.String()); err != nil {
			b.Fatal(err)
		}
	}
	size := func(int64) uint32 { return 100 }
	emit := func(postingRow) error { return nil }
	b.Run("driver", func(b *testing.B) {
		for b.Loop() {
			rows, err := tt.c.QueryContext(ctx, `SELECT term, doc, col FROM v`)
			if err != nil {
				b.Fatal(err)
			}
			if err := collectPostings(rows, 0, size, emit); err != nil {
				b.Fatal(err)
			}
			rows.Close()
		}
	})
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			pc := postingCollector{size: size, emit: emit}
			if err := tt.cc.queryRows(ctx, `SELECT term, doc, col FROM v`, nil, func(row rowReader) error {
				term, _ := row.str(0)
				pk, _ := row.int(1)
				col, _ := row.str(2)
				return pc.add(term, pk, col == "title")
			}); err != nil {
				b.Fatal(err)
			}
			if err := pc.flush(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
