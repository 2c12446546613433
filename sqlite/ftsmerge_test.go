package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contextd/contextd"
)

// writerDirty reads the writer's set of indexes left to merge.
func writerDirty(s *Store) uint64 {
	c := <-s.writer
	defer func() { s.writer <- c }()
	return c.ftsDirty
}

// searchIDs runs a search and returns its hits' ids and scores, in order.
func searchIDs(t *testing.T, s *Store, sc contextd.Scope, q string) []string {
	t.Helper()
	res, err := s.SearchContexts(context.Background(), sc, contextd.SearchQuery{Query: q, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, h := range res.Results {
		out = append(out, fmt.Sprintf("%s %.9g", h.Context.ID, h.Score))
	}
	return out
}

// Writes from concurrent callers leave many small segments; once the writer
// is idle it merges them back to fewer than usermerge per level, and no
// search finds or ranks anything differently.
func TestIdleMergeKeepsSearches(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir(), Options{TopKMinContexts: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	sc := contextd.Scope{Tenant: "merge"}
	createConcurrently(t, s, sc, 7, 40)
	queries := []string{"alpha", "running graph", "conn*", `"index storage"`, "queue -latency", "title:beta"}
	before := make([][]string, len(queries))
	for i, q := range queries {
		before[i] = searchIDs(t, s, sc, q)
		if len(before[i]) == 0 {
			t.Fatalf("%q finds nothing", q)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for writerDirty(s) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("indexes still to merge after 20 s: %b (%d steps)", writerDirty(s), s.merges.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s.merges.Load() == 0 {
		t.Fatal("no merge step ran")
	}
	// Nothing is left for a usermerge-sized merge on any written index.
	err = s.write(ctx, "check merged", func(tx *conn) error {
		for _, ix := range shardIndexes(shardOf(1 << pkBits)) {
			var before, after int64
			if err := tx.QueryRowContext(ctx, "SELECT total_changes()").Scan(&before); err != nil {
				return err
			}
			if _, err := tx.c.ExecContext(ctx, `INSERT INTO `+ix+` (`+ix+`, rank) VALUES ('merge', 1000)`); err != nil {
				return err
			}
			if err := tx.QueryRowContext(ctx, "SELECT total_changes()").Scan(&after); err != nil {
				return err
			}
			if after-before >= 2 {
				t.Errorf("%s: a merge still had work to do (%d changes)", ix, after-before)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, q := range queries {
		if after := searchIDs(t, s, sc, q); !slices.Equal(before[i], after) {
			t.Errorf("%q: before merging %v, after %v", q, before[i], after)
		}
	}
}

// Every index has the merge settings, also those of a store made before
// them (the settings are written again at open).
func TestMergeSettings(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, Options{TopKMinContexts: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateContexts(ctx, contextd.Scope{Tenant: "a"}, []contextd.ContextCreate{{Title: "t", Content: "c"}}); err != nil {
		t.Fatal(err)
	}
	check := func(s *Store) {
		t.Helper()
		shards, err := func() (out []int, err error) {
			err = s.read(ctx, "shards", func(c *conn) error { out, err = existingShards(ctx, c); return err })
			return out, err
		}()
		if err != nil || len(shards) < 2 {
			t.Fatalf("shards %v, %v", shards, err)
		}
		for _, k := range shards {
			for _, ix := range shardIndexes(k) {
				for _, st := range ftsSettings {
					var v int
					err := s.read(ctx, "config", func(c *conn) error {
						return c.QueryRowContext(ctx, `SELECT v FROM `+ix+`_config WHERE k = ?`, st.key).Scan(&v)
					})
					if err != nil || v != st.val {
						t.Errorf("%s %s = %d, %v; want %d", ix, st.key, v, err, st.val)
					}
				}
			}
		}
	}
	check(s)
	// As a store of an older version: no settings.
	err = s.write(ctx, "forget settings", func(tx *conn) error {
		shards, err := existingShards(ctx, tx)
		if err != nil {
			return err
		}
		for _, k := range shards {
			for _, ix := range shardIndexes(k) {
				if _, err := tx.c.ExecContext(ctx, `DELETE FROM `+ix+`_config WHERE k IN ('automerge', 'crisismerge', 'usermerge')`); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, dir, Options{TopKMinContexts: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(s)
}

// createConcurrently writes small contexts of a few words from 8 writers at
// once, each of its own rows one at a time (small group commits, so many
// full-text segments); seed picks the words.
func createConcurrently(t *testing.T, s *Store, sc contextd.Scope, seed uint64, each int) {
	t.Helper()
	ctx := context.Background()
	words := strings.Fields("alpha beta gamma delta epsilon running runner runs connect connected graph index storage queue latency")
	text := func(r *rand.Rand, n int) string {
		w := make([]string, n)
		for i := range w {
			w[i] = words[r.IntN(len(words))]
		}
		return strings.Join(w, " ")
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), seed))
			for range each {
				if _, err := s.CreateContexts(ctx, sc, []contextd.ContextCreate{{Title: text(r, 4), Content: text(r, 40)}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
