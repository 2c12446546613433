package sqlite

import (
	"context"
	"fmt"
	"math/bits"
	"strconv"
	"time"
)

// Consolidating full-text segments when the writer has been idle a while.
//
// The idle merges of ftsmerge.go leave each level of an index with fewer
// than 4 segments: 6 to 8 segments in a shard of 60,000 rows. A query opens
// every segment for each of its terms (a b-tree seek and a leaf page each),
// and with search ranking over the tenant alone (search_tenant.go) that is
// most of what a search in a small tenant costs. So once the writer has been
// idle for consolidateAfter and the ordinary merges are done, it merges each
// index written since (and, after opening, every index) into one segment,
// in bounded steps (FTS5's 'merge' with a negative page count: every
// segment, whatever its level, into one), one index at a time; a job that
// comes meanwhile waits for one step at most.
//
// Merging rewrites the whole index. So that a trickle of writes, each
// followed by an idle spell, does not rewrite a shard for every few rows,
// an index is consolidated only when its segments other than the largest
// hold at least 1/consolidateRatio of the largest's pages (its _idx rows,
// one per leaf page where a term starts): at most ~consolidateRatio times the
// index is written again, whatever the write pattern. Segments hold the same
// postings whatever their number: no search answer changes.
const (
	consolidateAfter = 2 * time.Second
	consolidateRatio = 8
	// consolidatePages bounds one step (leaf pages written).
	consolidatePages = 2 * mergeStepPages
)

// looseAll marks every existing index as possibly holding several segments
// (at open: the store does not know).
func (s *Store) looseAll(ctx context.Context) error {
	c, err := s.take(ctx, s.writer)
	if err != nil {
		return err
	}
	defer func() { s.writer <- c }()
	have, err := existingShards(ctx, c)
	if err != nil {
		return err
	}
	for _, k := range have {
		for i := range shardIndexes(k) {
			c.ftsLoose |= ftsIndexBit(k, i)
		}
	}
	return nil
}

// segmentPages returns the _idx rows of each segment of index ix.
func segmentPages(ctx context.Context, c *conn, ix string) ([]int64, error) {
	return queryInt64s(ctx, c, `SELECT count(*) FROM `+ix+`_idx GROUP BY segid`)
}

// worthConsolidating reports whether the segments of an index (their page
// counts) should be merged into one (see consolidateRatio).
func worthConsolidating(pages []int64) bool {
	if len(pages) < 2 {
		return false
	}
	var largest, rest int64
	for _, n := range pages {
		if n > largest {
			rest += largest
			largest = n
		} else {
			rest += n
		}
	}
	return rest*consolidateRatio >= largest
}

// consolidateStep runs one consolidation step when the writer has been idle
// for idle (wait > 0: not yet, ask again after wait). more is false when no
// index is left to consolidate.
func (s *Store) consolidateStep(c *conn, idle time.Duration) (more bool, wait time.Duration) {
	if c.ftsLoose == 0 {
		return false, 0
	}
	if idle < consolidateAfter {
		return true, consolidateAfter - idle
	}
	ctx := context.Background()
	b := bits.TrailingZeros64(c.ftsLoose)
	ix := shardIndexes(b / 4)[b%4]
	if c.ftsMerging&(1<<b) == 0 {
		pages, err := segmentPages(ctx, c, ix)
		if err != nil || !worthConsolidating(pages) {
			if err != nil && !s.isClosed() {
				s.log.Warn("consolidate full-text segments", "index", ix, "err", err)
			}
			c.ftsLoose &^= 1 << b
			return c.ftsLoose != 0, 0
		}
		c.ftsMerging |= 1 << b
	}
	done, err := mergeOnce(ctx, c, ix, -consolidatePages)
	s.merges.Add(1)
	if err != nil && !s.isClosed() {
		s.log.Warn("consolidate full-text segments", "index", ix, "err", err)
	}
	if done || err != nil {
		c.ftsLoose &^= 1 << b
		c.ftsMerging &^= 1 << b
		if err == nil {
			s.log.Info("full-text index consolidated", "index", ix)
		}
	}
	return c.ftsLoose != 0, 0
}

// mergeOnce runs FTS5's 'merge' command with n pages on index ix in its own
// transaction, and reports whether it did nothing (the index is merged).
func mergeOnce(ctx context.Context, c *conn, ix string, n int) (done bool, err error) {
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return false, err
	}
	var before, after int64
	if err := c.QueryRowContext(ctx, "SELECT total_changes()").Scan(&before); err != nil {
		c.rollback()
		return false, err
	}
	if _, err := c.ExecContext(ctx, `INSERT INTO `+ix+` (`+ix+`, rank) VALUES ('merge', `+strconv.Itoa(n)+`)`); err != nil {
		c.rollback()
		return false, fmt.Errorf("%s: %w", ix, err)
	}
	if err := c.QueryRowContext(ctx, "SELECT total_changes()").Scan(&after); err != nil {
		c.rollback()
		return false, err
	}
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		c.rollback()
		return false, err
	}
	// FTS5: "if the difference is less than 2, the merge did nothing".
	return after-before < 2, nil
}
