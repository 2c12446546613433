package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/contextd/contextd"
)

// basePostings returns the base segment's posting lists of part: term to
// df and encoded list.
func basePostings(t *testing.T, s *Store, part int64) map[string]string {
	t.Helper()
	ctx := context.Background()
	gen := viewOf(t, s, part).base().gen
	out := map[string]string{}
	if err := s.read(ctx, "test", func(tx *conn) error {
		rows, err := tx.QueryContext(ctx, `SELECT term, df, postings FROM topk_postings WHERE part = ? AND gen = ?`, part, gen)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				term string
				df   int64
				blob []byte
			)
			if err := rows.Scan(&term, &df, &blob); err != nil {
				return err
			}
			out[term] = fmt.Sprintf("%d:%x", df, blob)
		}
		return rows.Err()
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTopKBuildInChunks: a whole build read in chunks of terms, each on a
// read snapshot of its own, writes the same posting lists, byte for byte,
// as one read on one snapshot; between two chunks no snapshot is held, so
// a checkpoint copies the whole WAL; and rows changed between two chunks
// stay dirty after the switch, so searches still give the oracle's answers
// over the segment's statistics.
func TestTopKBuildInChunks(t *testing.T) {
	defer func(n int64) { buildChunk = n }(buildChunk)
	ctx := context.Background()
	s := openTopK(t)
	r := rand.New(rand.NewPCG(8, 9))
	docs := map[string]*topkDoc{}
	topkCreate(t, s, "w", r, 400, docs)
	part := partOf(t, s, "w")

	var want map[string]string
	for _, n := range []int64{1 << 40, 1, 5, 97} {
		buildChunk = n
		chunks := 0
		s.topk.hook = func(step string) error {
			if step == "chunk" {
				chunks++
			}
			return nil
		}
		if err := BuildTopK(s, "w"); err != nil {
			t.Fatal(err)
		}
		s.topk.hook = nil
		got := basePostings(t, s, part)
		if want == nil {
			want = got
			if chunks != 0 || len(want) < 20 {
				t.Fatalf("one snapshot: %d chunk ends, %d terms", chunks, len(want))
			}
			continue
		}
		if n == 1 && chunks != len(want)-1 {
			t.Errorf("chunks of one token: %d chunk ends for %d terms, want a chunk per term", chunks, len(want))
		}
		if len(got) != len(want) {
			t.Fatalf("chunks of %d tokens: %d terms, want %d", n, len(got), len(want))
		}
		for term, w := range want {
			if got[term] != w {
				t.Fatalf("chunks of %d tokens: term %q's list differs from the one-snapshot build's", n, term)
			}
		}
	}
	sameAsFTS5(t, s, "w", r, 20)

	// Changes between two chunks: after them, a checkpoint copies every
	// frame of the WAL (no snapshot of the build holds it), and the changed
	// rows stay dirty.
	buildChunk = 3
	chunks := 0
	s.topk.hook = func(step string) error {
		if step != "chunk" {
			return nil
		}
		if chunks++; chunks != 20 {
			return nil
		}
		changeSome(t, s, "w", r, docs, 12)
		var busy, log, done int64
		if err := s.ckpt.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &done); err != nil {
			return err
		}
		if busy != 0 || log <= 0 || done != log {
			t.Errorf("checkpoint between two chunks: busy %d, %d of %d frames copied; want all", busy, done, log)
		}
		return nil
	}
	if err := BuildTopK(s, "w"); err != nil {
		t.Fatal(err)
	}
	s.topk.hook = nil
	if chunks < 20 {
		t.Fatalf("%d chunk ends, want at least 20", chunks)
	}
	v := viewOf(t, s, part)
	if dirty := queryInt(t, s, `SELECT count(*) FROM topk_dirty WHERE pk BETWEEN ? AND ?`, v.base().lo, v.base().watermark); dirty < 8 {
		t.Fatalf("%d dirty rows in the base after changes between chunks, want the 8 updated and deleted", dirty)
	}
	checkOracle(t, s, "w", docs, r, 40)
}

// TestTopKTailSpan: a tail of new rows takes at most maxTailSpan of them;
// the next tails take the rest, and the answers are the FTS5 path's.
func TestTopKTailSpan(t *testing.T) {
	defer func(n int64) { maxTailSpan = n }(maxTailSpan)
	maxTailSpan = 50
	s := openTopK(t)
	r := rand.New(rand.NewPCG(10, 11))
	topkCreate(t, s, "w", r, 200, nil)
	if err := BuildTopK(s, "w"); err != nil {
		t.Fatal(err)
	}
	part := partOf(t, s, "w")
	topkCreate(t, s, "w", r, 120, nil)
	for _, want := range []int{1, 2, 3} {
		v := viewOf(t, s, part)
		tailAfter(t, s, part, v.watermark)
		v = viewOf(t, s, part)
		if tails := v.tails(); len(tails) != want || tails[len(tails)-1].watermark-tails[len(tails)-1].lo+1 > maxTailSpan {
			t.Fatalf("after tail %d: tails %+v, want %d of at most %d pks", want, tails, want, maxTailSpan)
		}
	}
	if v := viewOf(t, s, part); v.watermark != queryInt(t, s, `SELECT max(pk) FROM contexts`) {
		t.Fatalf("the tails end at %d, not at the newest row", v.watermark)
	}
	sameAsFTS5(t, s, "w", r, 20)
}

// TestTopKDirtyOrderAcrossSwitches: a change made while a whole build runs
// stays dirty after its switch, even when a tail's switch in between
// cleared the newest dirty records. The records' number must never go
// back: were it max(n)+1 over the records left, the change would get a
// number at or below the build's mark and the switch would clear it,
// leaving the segment's old postings for a row that changed (dirtyMark).
func TestTopKDirtyOrderAcrossSwitches(t *testing.T) {
	defer func(n int64) { buildChunk = n }(buildChunk)
	ctx := context.Background()
	s := openTopK(t)
	r := rand.New(rand.NewPCG(15, 16))
	docs := map[string]*topkDoc{}
	topkCreate(t, s, "w", r, 100, docs)
	if err := BuildTopK(s, "w"); err != nil {
		t.Fatal(err)
	}
	part := partOf(t, s, "w")
	base := viewOf(t, s, part).watermark
	topkCreate(t, s, "w", r, 30, docs)
	tailAfter(t, s, part, base)

	// Rows of the base (pk <= base) and of the tail (pk > base), by id.
	var inBase, inTail []string
	for id := range docs {
		if queryInt(t, s, `SELECT pk FROM contexts WHERE id = ?`, id) <= base {
			inBase = append(inBase, id)
		} else {
			inTail = append(inTail, id)
		}
	}
	sort.Strings(inBase)
	sort.Strings(inTail)
	sc := contextd.Scope{Tenant: "w"}
	update := func(id, content string) {
		t.Helper()
		c, err := s.UpdateContext(ctx, sc, id, contextd.ContextUpdate{Content: &content})
		if err != nil {
			t.Fatal(err)
		}
		docs[id].content = c.Content
	}
	// Dirty records before the build: one in the base, two in the tail,
	// the tail's the newest.
	update(inBase[0], "kappa sigma")
	update(inTail[0], "omega delta")
	update(inTail[1], "omega theta")

	buildChunk = 1
	changed := ""
	s.topk.hook = func(step string) error {
		if step != "chunk" || changed != "" {
			return nil
		}
		// After the build's mark: a tail over the same rows clears the
		// tail's records, then a row of the base changes.
		tailAfter(t, s, part, base)
		changed = inBase[1]
		update(changed, "alpha alpha alpha lambda")
		return nil
	}
	if err := BuildTopK(s, "w"); err != nil {
		t.Fatal(err)
	}
	s.topk.hook = nil
	if changed == "" {
		t.Fatal("the build had no chunk end")
	}
	pk := queryInt(t, s, `SELECT pk FROM contexts WHERE id = ?`, changed)
	if n := queryInt(t, s, `SELECT count(*) FROM topk_dirty WHERE pk = ?`, pk); n != 1 {
		t.Fatalf("the row changed during the build has %d dirty records after its switch, want 1", n)
	}
	checkOracle(t, s, "w", docs, r, 40)
	rep, err := s.Check(ctx, contextd.CheckOptions{Full: true})
	if err != nil || !rep.OK {
		t.Fatalf("check: %+v %v", rep, err)
	}

	// The check finds a change log numbered behind the records.
	if err := s.write(ctx, "test", func(tx *conn) error {
		_, err := tx.ExecContext(ctx, `UPDATE sqlite_sequence SET seq = 1 WHERE name = 'changes'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if rep, err := s.Check(ctx, contextd.CheckOptions{}); err != nil || rep.OK {
		t.Fatalf("check with the counter behind the records: %+v %v", rep, err)
	}
}
