package sqlite

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/contextd/contextd"
)

// writerLoose reads the writer's set of indexes left to consolidate.
func writerLoose(s *Store) uint64 {
	c := <-s.writer
	defer func() { s.writer <- c }()
	return c.ftsLoose
}

// Writes leave several segments; once the writer has been idle long
// enough, each written index is one segment, and no search finds or ranks
// anything differently.
func TestIdleConsolidation(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir(), Options{TopKMinContexts: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	sc := contextd.Scope{Tenant: "consolidate"}
	createConcurrently(t, s, sc, 9, 50) // ftsmerge_test.go
	k := shardOf(1 << pkBits)
	segments := func() []int {
		var out []int
		err := s.read(ctx, "segments", func(c *conn) error {
			for _, ix := range shardIndexes(k)[:2] {
				pages, err := segmentPages(ctx, c, ix)
				if err != nil {
					return err
				}
				out = append(out, len(pages))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if seg := segments(); seg[0] < 2 {
		t.Fatalf("segments %v after the writes: want several", seg)
	}
	queries := []string{"alpha", "running graph", "conn*", `"index storage"`, "queue -latency"}
	before := make([][]string, len(queries))
	for i, q := range queries {
		before[i] = searchIDs(t, s, sc, q)
	}
	deadline := time.Now().Add(60 * time.Second)
	for writerLoose(s) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("indexes still to consolidate after 60 s: %b", writerLoose(s))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if seg := segments(); seg[0] != 1 || seg[1] != 1 {
		t.Fatalf("segments %v after consolidating, want 1 each", seg)
	}
	for i, q := range queries {
		if after := searchIDs(t, s, sc, q); !slices.Equal(before[i], after) {
			t.Errorf("%q: before consolidating %v, after %v", q, before[i], after)
		}
	}
	// A write makes its index loose again; a small segment beside a large
	// one is left alone (not worth rewriting the index).
	if _, err := s.CreateContexts(ctx, sc, []contextd.ContextCreate{{Title: "late", Content: "one more row"}}); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(60 * time.Second)
	for writerLoose(s) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("indexes still to consider after 60 s: %b", writerLoose(s))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if seg := segments(); seg[0] != 2 {
		t.Fatalf("segments %v after one more row, want 2 (the new one left alone)", seg)
	}
}

func TestWorthConsolidating(t *testing.T) {
	for _, c := range []struct {
		pages []int64
		want  bool
	}{
		{nil, false}, {[]int64{100}, false}, {[]int64{100, 1}, false}, {[]int64{100, 12, 1}, true},
		{[]int64{5, 5}, true}, {[]int64{3, 80, 3, 3, 1}, true}, {[]int64{3, 80, 3}, false},
	} {
		if got := worthConsolidating(c.pages); got != c.want {
			t.Errorf("%v: %v, want %v", c.pages, got, c.want)
		}
	}
}
