package sqlite

import (
	"context"
	"fmt"
	"math/bits"
	"strconv"
	"time"
)

// FTS5 segment merging, moved off the write path.
//
// Every commit flushes the rows it indexed to a new segment of each index it
// wrote, and FTS5's default 'automerge' (4) then merges, inside that same
// commit, some pages of any level holding 4 or more segments. With small
// group commits that merging was a fifth of the writer's time, and its
// crisis merges (16 segments on one level) a long stall.
//
// The store's indexes merge later (ftsSettings): automerge 16 on the write
// path, so that each row's postings are rewritten about half as often, and a
// crisis merge only at 24 segments. When the writer is idle (no job for
// idleMergeAfter), it merges the indexes written since in small steps
// (mergeStepPages for each index, all of them in one transaction) with 'usermerge' 4, which
// brings every level back to fewer than 4 segments, the shape the default
// settings keep: searches after a write burst read no more segments than
// before. A step that finds nothing left to merge clears its index.
//
// None of this changes what a search finds or how it ranks: segments hold
// the same postings whatever their number; BM25's statistics are kept per
// index, not per segment.

// ftsSettings are written to every full-text index (its %_config table):
// they persist with the index, and ensureShard sets them on new shards.
var ftsSettings = []struct {
	key string
	val int
}{
	{"automerge", 16},
	{"crisismerge", 24},
	{"usermerge", 4},
}

const (
	// idleMergeAfter is how long the writer waits for a job before it
	// merges segments: well above the gaps of a steady stream of writes,
	// whose merging stays with automerge (a merge step that a job then
	// waits for costs it a transaction and its fsync).
	idleMergeAfter = 250 * time.Millisecond
	// mergeStepPages bounds the work of one merge step (FTS5's 'merge'
	// command: about this many leaf pages written), a few milliseconds.
	mergeStepPages = 64
)

// configureIndex writes ftsSettings to the full-text index ix.
func configureIndex(ctx context.Context, tx *conn, ix string) error {
	for _, st := range ftsSettings {
		if _, err := tx.c.ExecContext(context.WithoutCancel(ctx), `INSERT INTO `+ix+` (`+ix+`, rank) VALUES (?, ?)`, st.key, st.val); err != nil {
			return fmt.Errorf("index %s: %s: %w", ix, st.key, err)
		}
	}
	return nil
}

// ftsIndexBit is the bit of index i (0..3, see shardIndexes) of shard k in
// conn.ftsDirty.
func ftsIndexBit(k, i int) uint64 { return 1 << (k*4 + i) }

// markFTS records that the writer wrote full-text index base of pk's shard.
func (c *conn) markFTS(base string, pk int64) {
	i := 0
	switch base {
	case contextIndex.raw:
		i = 1
	case memoryIndex.stem:
		i = 2
	case memoryIndex.raw:
		i = 3
	}
	c.ftsDirty |= ftsIndexBit(shardOf(pk), i)
	c.ftsLoose |= ftsIndexBit(shardOf(pk), i) // ftsconsolidate.go
}

// mergeStep runs one merge step on every index the writer wrote since it
// was last fully merged, in one transaction. It returns false when no index
// is left to merge.
func (s *Store) mergeStep(c *conn) bool {
	if c.ftsDirty == 0 {
		return false
	}
	ctx := context.Background()
	var done uint64 // indexes with nothing left to merge
	err := func() error {
		if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			return err
		}
		for d := c.ftsDirty; d != 0; d &= d - 1 {
			b := bits.TrailingZeros64(d)
			ix := shardIndexes(b / 4)[b%4]
			var before, after int64
			if err := c.QueryRowContext(ctx, "SELECT total_changes()").Scan(&before); err != nil {
				c.rollback()
				return err
			}
			if _, err := c.ExecContext(ctx, `INSERT INTO `+ix+` (`+ix+`, rank) VALUES ('merge', `+strconv.Itoa(mergeStepPages)+`)`); err != nil {
				c.rollback()
				return fmt.Errorf("%s: %w", ix, err)
			}
			if err := c.QueryRowContext(ctx, "SELECT total_changes()").Scan(&after); err != nil {
				c.rollback()
				return err
			}
			// FTS5: "if the difference is less than 2, the merge did nothing".
			if after-before < 2 {
				done |= 1 << b
			}
		}
		if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
			c.rollback()
			return err
		}
		return nil
	}()
	s.merges.Add(1)
	if err != nil {
		// A missing table (a shard dropped by a restore) or an I/O error:
		// leave the indexes to the next writes' automerge.
		s.log.Warn("merge full-text segments", "err", err)
		done = c.ftsDirty
	}
	c.ftsDirty &^= done
	return c.ftsDirty != 0
}
