package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Building segments of the top-k index (see topk.go).
//
// A build of partition p: (1) a write transaction sets p's pending watermark
// P to its newest row, so that from then on every change to a row <= P is
// recorded in topk_dirty; (2) on read snapshots taken after it, the rows
// <= P are read from the stemmed FTS5 shard (its fts5vocab 'instance' rows:
// term, row, column) and the _docsize table, and the posting lists written,
// a few thousand terms per write transaction, under a new generation that
// no search reads yet; (3) one write transaction makes that generation the
// segment and clears the dirty records the first snapshot saw; (4) the old
// generations' rows (the old base's, and its tails', topk_tail.go) are
// deleted. A crash anywhere leaves either the old segment or the new one,
// with the dirty records that go with it; unfinished generations are
// cleared by the next build. Generations are handed out by nextGen, never
// twice in a partition.

// buildRecord is what the builder remembers of a partition's last build.
type buildRecord struct {
	at   time.Time
	took time.Duration
}

// buildChunk is how many fts5vocab rows (tokens) a whole build reads on one
// read snapshot, about a second's reading (a million contexts hold ~150M
// tokens). A snapshot held for the whole build (minutes at a million rows)
// pins the WAL: no checkpoint can go past it, so the WAL grew by every write
// of those minutes (7.7 GB while 880k contexts were loaded into a store of
// 1.1M), and every page read of every connection then searched a wal-index
// of hundreds of hash tables (walFindFrame took 39% of the server's CPU and
// health pings timed out). Chunks end between two terms, so each term's list
// is read on one snapshot. A row changed between two chunks may be in some
// lists as it was and in others as it is: it is dirty (its change recorded
// in topk_dirty after the first snapshot's mark, which the switch keeps), so
// searches read it from FTS5 and not from the segment, and the segment's
// statistics count it as it was when read, as they count any row changed
// after a build. A var for tests.
var buildChunk int64 = 1 << 19

// topkVocab is the fts5vocab table over shard k's stemmed index.
func topkVocab(k int) string { return "topk_vocab_" + strconv.Itoa(k) }

// buildTopK builds a new segment of partition part (the steps above).
func (s *Store) buildTopK(ctx context.Context, part int64) error {
	st := s.topk
	st.whole.Lock()
	defer st.whole.Unlock()
	r := rangeOf(part)
	shard := shardOf(r.lo)
	if err := s.dropUnused(ctx, part); err != nil {
		return err
	}
	var pending, gen int64
	// (1) The pending watermark and the generation. Tail builds meanwhile
	// stop at pending (topk_tail.go).
	st.mu.Lock()
	err := s.write(ctx, "top-k index: start", func(tx *conn) error {
		if _, err := tx.c.ExecContext(context.WithoutCancel(ctx), `CREATE VIRTUAL TABLE IF NOT EXISTS `+topkVocab(shard)+
			` USING fts5vocab (`+ftsName(contextIndex.stem, shard)+`, 'instance')`); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(pk), 0) FROM contexts WHERE pk BETWEEN ? AND ?`, r.lo, r.hi).Scan(&pending); err != nil {
			return err
		}
		if pending == 0 {
			return nil
		}
		var err error
		gen, err = nextGen(ctx, tx, part, pending)
		return err
	})
	if err == nil && pending > 0 {
		st.pendP[part] = pending
		st.flying[gen]++
		defer func() {
			st.mu.Lock()
			delete(st.pendP, part)
			st.land(gen)
			st.mu.Unlock()
		}()
	}
	st.mu.Unlock()
	if err != nil || pending == 0 {
		return err
	}
	if err := s.topk.at("start"); err != nil {
		return err
	}
	// (2) The posting lists: the row lengths and the dirty-record mark on
	// one snapshot, then every token, a chunk of whole terms on each
	// snapshot (buildChunk).
	var mark, docs, tokens int64
	var size []uint32
	w := &postingWriter{ctx: ctx, s: s, part: part, gen: gen}
	err = s.read(ctx, "top-k index: build", func(tx *conn) error {
		var err error
		if mark, err = dirtyMark(ctx, tx); err != nil {
			return err
		}
		// Row lengths, by seq.
		size = make([]uint32, pending&pkMask+1)
		rows, err := tx.QueryContext(ctx, `SELECT id, sz FROM `+ftsName(contextIndex.stem, shard)+`_docsize WHERE id BETWEEN ? AND ?`, r.lo, pending)
		return eachDocSize(rows, err, func(pk, d int64) {
			size[pk&pkMask] = uint32(d)
			docs++
			tokens += d
		})
	})
	if err == nil && docs > 0 {
		pc := &postingCollector{lo: r.lo, size: func(pk int64) uint32 { return size[pk&pkMask] }, emit: w.add}
		for next, done := "", false; err == nil && !done; {
			err = s.read(ctx, "top-k index: build", func(tx *conn) error {
				// Every token of the rows, term by term, row by row, from
				// the term next on.
				rows, err := tx.QueryContext(ctx, `SELECT term, doc, col FROM `+topkVocab(shard)+` WHERE term >= ? AND doc BETWEEN ? AND ?`, next, r.lo, pending)
				if err != nil {
					return err
				}
				defer rows.Close()
				next, done, err = pc.chunk(rows, buildChunk)
				return err
			})
			if err == nil && !done {
				err = s.topk.at("chunk")
			}
		}
	}
	if err == nil {
		err = w.flush()
	}
	if err != nil || docs == 0 {
		return err
	}
	// (3) The switch: the base replaces the tails at or below pending; those
	// built since above it (none straddles it) stay.
	var live []int64
	st.mu.Lock()
	err = s.write(ctx, "top-k index: switch", func(tx *conn) error {
		if _, err := tx.ExecContext(ctx, `UPDATE topk_segments SET gen = ?, watermark = ?, docs = ?, tokens = ?, built_at = ? WHERE part = ?`,
			gen, pending, docs, tokens, s.clock().UnixNano(), part); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM topk_tails WHERE part = ? AND lo <= ?`, part, pending); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM topk_dirty WHERE pk BETWEEN ? AND ? AND n <= ?`, r.lo, pending, mark); err != nil {
			return err
		}
		v, ok, err := loadView(ctx, tx, part) // checks the tails left follow
		if err != nil || !ok {
			return errors.Join(err, errors.New("no base segment"))
		}
		live = v.gens()
		return nil
	})
	if err == nil {
		st.cache.setLive(part, live)
	}
	st.mu.Unlock()
	if err != nil {
		return err
	}
	if err := s.topk.at("switch"); err != nil {
		return err
	}
	// (4) The old generations.
	return s.dropUnused(ctx, part)
}

// postingRow is one term's posting list, to be written.
type postingRow struct {
	term string
	df   int64
	blob []byte
}

// dropGeneration deletes the posting lists of generation gen of partition
// part, a few thousand at a time (each batch a short write).
func (s *Store) dropGeneration(ctx context.Context, part, gen int64) error {
	for {
		var n int64
		err := s.write(ctx, "top-k index: drop", func(tx *conn) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM topk_postings WHERE (part, gen, term) IN
				(SELECT part, gen, term FROM topk_postings WHERE part = ? AND gen = ? LIMIT 5000)`, part, gen)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil || n == 0 {
			return err
		}
	}
}

// topkInterval is how often the builder looks for partitions due.
const topkInterval = 2 * time.Second

// runTopK is the background builder: every topkInterval (or when kicked) it
// builds the tails that are due, one at a time, and starts the whole build
// that is due beside them (one at a time, waiting twice a partition's last
// whole build time before building it again, so that whole builds take at
// most a third of a core).
func (s *Store) runTopK() {
	defer close(s.topk.done)
	defer s.topk.wg.Wait() // after cancel: whole builds stop
	t := time.NewTicker(topkInterval)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.topk.stop:
		case <-s.closed:
		}
		cancel()
	}()
	if err := s.warmColumns(ctx, nil); err != nil && ctx.Err() == nil {
		s.log.Warn("top-k index filter columns", "err", err)
	}
	for {
		select {
		case <-s.topk.stop:
			return
		case <-t.C:
		case <-s.topk.kick:
		}
		if err := s.topkRound(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("top-k index build", "err", err)
		}
	}
}

// topkRound builds every segment that is due.
func (s *Store) topkRound(ctx context.Context) error {
	type cand struct{ num, next int64 }
	var cands []cand
	err := s.read(ctx, "top-k index: partitions", func(tx *conn) error {
		rows, err := tx.QueryContext(ctx, `SELECT num, next_context FROM tenant_partitions WHERE next_context > ?`, s.topk.minDocs)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c cand
			if err := rows.Scan(&c.num, &c.next); err != nil {
				return err
			}
			cands = append(cands, c)
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	st := s.topk
	for _, c := range cands {
		// A few builds in a row: a tail, then the merge it makes due.
		for range 4 {
			plan, err := s.topkPlanOf(ctx, c.num)
			if err != nil {
				return err
			}
			if plan.kind == buildNone {
				break
			}
			if plan.kind == buildWhole {
				// One whole build at a time, beside this loop (tails are
				// built meanwhile), each waiting twice the partition's last
				// one's time.
				st.mu.Lock()
				last, ok := st.last[c.num]
				start := len(st.running) == 0 && (!ok || time.Since(last.at) >= 2*last.took)
				if start {
					st.running[c.num] = true
					st.wg.Add(1)
				}
				st.mu.Unlock()
				if !start {
					break
				}
				go func(part int64) {
					defer st.wg.Done()
					if err := s.topkBuild(ctx, part, plan); err != nil && ctx.Err() == nil {
						s.log.Warn("top-k index build", "partition", part, "err", err)
					}
					st.mu.Lock()
					delete(st.running, part)
					st.mu.Unlock()
				}(c.num)
				continue
			}
			// A tail over new rows waits twice the partition's last one's
			// time, like whole builds: while a tenant takes in rows faster
			// than tails are built (a bulk load), the builder takes at most
			// about a third of a core beside the writes, each tail covers
			// more rows (up to maxTailSpan), and rows a whole build takes in
			// first are never tokenized for a tail. Until the tails catch
			// up, searches score the rows above them through FTS5 (after a
			// load of 1M rows into 2M: ~650k such rows, search p50 0.3 s,
			// for the 17 minutes the tails took). Merges and changed-rows
			// rebuilds of tails are not held back.
			fresh := plan.kind == buildTail && plan.why == whyNewRows
			if fresh {
				st.mu.Lock()
				last, ok := st.lastNew[c.num]
				st.mu.Unlock()
				if ok && time.Since(last.at) < 2*last.took {
					break
				}
			}
			start := time.Now()
			if err := s.topkBuild(ctx, c.num, plan); err != nil {
				return fmt.Errorf("partition %d: %w", c.num, err)
			}
			if fresh {
				st.mu.Lock()
				st.lastNew[c.num] = buildRecord{at: time.Now(), took: time.Since(start)}
				st.mu.Unlock()
			}
		}
	}
	return nil
}

// startTopK starts the top-k index and its builder, unless opts turn it off.
func (s *Store) startTopK(ctx context.Context, opts Options) error {
	if opts.TopKMinContexts < 0 {
		return nil
	}
	minDocs, cacheMB := int64(opts.TopKMinContexts), int64(opts.TopKCacheMB)
	if minDocs == 0 {
		minDocs = 5000
	}
	if cacheMB <= 0 {
		cacheMB = 64
	}
	tok, err := newTokenizer(ctx)
	if err != nil {
		return err
	}
	s.topk = &topkState{
		minDocs: minDocs,
		tok:     tok,
		cache:   postingCache{m: map[postingKey]*encodedList{}, cols: map[colKey]*docColumns{}, budget: cacheMB << 20},
		loading: map[colKey]*colEntry{},
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		last:    map[int64]buildRecord{},
		lastNew: map[int64]buildRecord{},
		pendP:   map[int64]int64{},
		running: map[int64]bool{},
		flying:  map[int64]int{},
	}
	go s.runTopK()
	return nil
}

// stopTopK stops the builder and waits for it. The tokenizer is closed
// with the connections (closeConns), once no search runs.
func (s *Store) stopTopK() {
	if s.topk == nil {
		return
	}
	close(s.topk.stop)
	<-s.topk.done
}
