package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unsafe"
)

// Tail segments of the top-k index (issue 3). A whole build reads the
// shard's fts5vocab 'instance' table, which scans the whole shard: minutes
// of a core at 1M contexts. Rebuilding for every thousand new rows made the
// index's upkeep cost per written row grow with the store. Instead:
//
//   - Rows added after the base segment are taken in by tail segments
//     (topk_tails), each holding the rows with pk in [lo, watermark], the
//     ranges ascending and contiguous from the base's watermark. A tail is
//     built from its rows alone, tokenized exactly as the stemmed shards
//     are (the same terms, as for query words, topk_token.go): pure-ASCII
//     rows by a Go port of FTS5's tokenizer (porter.go), the others through
//     a private in-memory FTS5 table whose fts5vocab 'instance' rows and
//     _docsize give their postings and lengths (topk_tailtok.go). The
//     protocol is a whole build's (topk_build.go): a pending watermark, the
//     rows read on one snapshot, postings written under a new generation,
//     one small write transaction to switch, the dirty records of its range
//     that the snapshot saw cleared.
//   - Tails are merged size-tiered: when the newest tailFanout tails are of
//     one level (level = log base tailFanout of rows spanned / tailRows),
//     their posting lists are concatenated into one tail (topk_merge.go), no
//     row read. A posting is so copied at most a few times (once per level)
//     before a whole build takes it in.
//   - A whole build runs only when the tails together hold half as many
//     rows as the base (so its cost, proportional to the base, is spread
//     over at least base/2 written rows), or when changed rows of the base
//     pass 1,000 + 1% of it, as before. Changed rows of tails are cleared by
//     merging the tails that hold them when they pass tailRows + 1%.
//
// So the index's upkeep per written row is bounded by a constant (one
// tokenization, a few copies of its postings, its share of whole builds), and searches read at most
// about tailRows new rows (and those written during a round) from FTS5.

// Tail policy.
const (
	tailRows   = 1000 // rows above the newest watermark that make a tail due
	tailFanout = 8    // tails of one level merged into one
)

// maxTailSpan bounds the pks (so the rows) of a tail of new rows. A tail
// build holds its rows' tokens in memory and its rows on one read snapshot;
// when rows come in faster than tails are built (a bulk load), a tail of
// every row since the last one grew to hundreds of thousands of rows (46k,
// 145k, 211k, then ~400k while 880k contexts were loaded into 1.1M: minutes
// each, the WAL pinned meanwhile, resident memory past 2 GB). Tails of at
// most this many are built one after another instead, and merged as any
// others. A var for tests.
var maxTailSpan int64 = 16 * tailRows

// topkView is what searches read of a partition: its base segment and its
// tails, in pk order, with their summed statistics.
type topkView struct {
	part              int64
	segs              []segment // the base first, then the tails by lo
	watermark         int64     // the newest segment's
	docs, tokens      int64
	tailDocs, tailPks int64 // rows held by the tails, and the pks they span
}

func (v *topkView) avgdl() float64 { return float64(v.tokens) / float64(v.docs) }

func (v *topkView) base() segment    { return v.segs[0] }
func (v *topkView) tails() []segment { return v.segs[1:] }

// gens returns the generations of the view's segments.
func (v *topkView) gens() []int64 {
	out := make([]int64, len(v.segs))
	for i, g := range v.segs {
		out[i] = g.gen
	}
	return out
}

// loadView returns the partition's view, if it has a base segment.
func loadView(ctx context.Context, tx *conn, part int64) (*topkView, bool, error) {
	base, ok, err := loadSegment(ctx, tx, part)
	if err != nil || !ok {
		return nil, false, err
	}
	v := &topkView{part: part, segs: []segment{base}, watermark: base.watermark, docs: base.docs, tokens: base.tokens}
	rows, err := tx.QueryContext(ctx, `SELECT gen, lo, watermark, docs, tokens FROM topk_tails WHERE part = ? ORDER BY lo`, part)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	for rows.Next() {
		g := segment{part: part}
		if err := rows.Scan(&g.gen, &g.lo, &g.watermark, &g.docs, &g.tokens); err != nil {
			return nil, false, err
		}
		if g.lo != v.watermark+1 || g.watermark < g.lo {
			return nil, false, fmt.Errorf("top-k index: partition %d: tail [%d, %d] does not follow %d", part, g.lo, g.watermark, v.watermark)
		}
		v.segs = append(v.segs, g)
		v.watermark = g.watermark
		v.docs += g.docs
		v.tokens += g.tokens
		v.tailDocs += g.docs
		v.tailPks += g.watermark - g.lo + 1
	}
	return v, true, rows.Err()
}

// tailLevel is the merge level of a tail: 0 below tailRows*tailFanout rows
// spanned, then one more for every factor of tailFanout.
func tailLevel(g segment) int {
	span := float64(g.watermark - g.lo + 1)
	if span < tailRows*tailFanout {
		return 0
	}
	return int(math.Log(span/tailRows) / math.Log(tailFanout))
}

// Kinds of build.
const (
	buildNone  = iota
	buildWhole // the base, from the shard's vocabulary (topk_build.go)
	buildTail  // a tail from the rows above from
	buildMerge // the tails above from merged by their lists (topk_merge.go)
)

// whyNewRows is the reason of a tail over the rows above the newest
// watermark (topkRound paces those).
const whyNewRows = "new rows"

// topkPlan is the build a partition needs: kind, and for a tail the pk it
// starts after (the newest watermark for a new tail, or the watermark
// before the tails it merges).
type topkPlan struct {
	kind int
	from int64
	why  string
}

// topkPlanOf returns the build partition part needs now (see above).
// While a whole build of it is under way, only tails above its pending
// watermark are merged (buildTail), and no other whole build is due.
func (s *Store) topkPlanOf(ctx context.Context, part int64) (topkPlan, error) {
	r := rangeOf(part)
	var plan topkPlan
	st := s.topk
	st.mu.Lock()
	floor, busy := st.pendP[part]
	if st.running[part] {
		busy = true
		if floor == 0 {
			floor = math.MaxInt64 // not started yet: its watermark is unknown
		}
	}
	if !busy {
		floor = math.MinInt64
	}
	st.mu.Unlock()
	err := s.read(ctx, "top-k index: due", func(tx *conn) error {
		v, ok, err := loadView(ctx, tx, part)
		if err != nil {
			return err
		}
		wm := r.lo
		if ok {
			wm = v.watermark
		}
		var fresh int64
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM contexts WHERE pk > ? AND pk <= ?`, wm, r.hi).Scan(&fresh); err != nil {
			return err
		}
		if !ok {
			if fresh >= s.topk.minDocs {
				plan = topkPlan{kind: buildWhole, why: "first"}
			}
			return nil
		}
		// Changed rows per segment.
		dirty := make([]int64, len(v.segs))
		for i, g := range v.segs {
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM topk_dirty WHERE pk BETWEEN ? AND ?`, g.lo, g.watermark).Scan(&dirty[i]); err != nil {
				return err
			}
		}
		base := v.base()
		switch {
		case busy:
		case dirty[0] >= 1000+base.docs/100:
			plan = topkPlan{kind: buildWhole, why: "changed rows"}
			return nil
		case v.tailPks+fresh >= max(base.docs/2, tailRows):
			plan = topkPlan{kind: buildWhole, why: "tails"}
			return nil
		}
		tails := v.tails()
		first := 0 // the oldest tail a merge may take: above the floor
		for first < len(tails) && tails[first].lo <= floor {
			first++
		}
		tails, dirty = tails[first:], append(dirty[:1], dirty[1+first:]...)
		// Changed rows of tails: the shortest run of newest tails where they
		// pass tailRows + 1% of its rows is built again (so a changed row
		// costs at most ~100 rows tokenized again).
		var d, n int64
		for k := len(tails) - 1; k >= 0; k-- {
			d += dirty[k+1]
			n += tails[k].docs
			if d >= tailRows+n/100 {
				plan = topkPlan{kind: buildTail, from: tails[k].lo - 1, why: "changed rows"}
				return nil
			}
		}
		// tailFanout tails of the newest one's level: merged.
		if len(tails) >= tailFanout {
			lvl := tailLevel(tails[len(tails)-1])
			k := len(tails) - 1
			for k > 0 && tailLevel(tails[k-1]) == lvl {
				k--
			}
			if len(tails)-k >= tailFanout {
				plan = topkPlan{kind: buildMerge, from: tails[k].lo - 1, why: "merge"}
				return nil
			}
		}
		if fresh >= tailRows {
			plan = topkPlan{kind: buildTail, from: v.watermark, why: whyNewRows}
		}
		return nil
	})
	return plan, err
}

// tailTokenizer is a private in-memory FTS5 table tokenizing rows exactly
// as the stemmed shards do (columns title and content).
type tailTokenizer struct {
	db *sql.DB
	c  *sql.Conn
	cc *conn // c, for queryRows (the C API, directread.go)
}

func newTailTokenizer(ctx context.Context) (*tailTokenizer, error) {
	db, err := sql.Open("sqlite", "file::memory:")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	t := &tailTokenizer{db: db}
	if t.c, err = db.Conn(ctx); err != nil {
		db.Close()
		return nil, err
	}
	t.cc = newConn(t.c)
	for _, stmt := range []string{
		`CREATE VIRTUAL TABLE t USING fts5 (title, content, tokenize = '` + stemTokenizer + `')`,
		`CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance')`,
	} {
		if _, err := t.c.ExecContext(ctx, stmt); err != nil {
			t.close()
			return nil, fmt.Errorf("tail tokenizer: %w", err)
		}
	}
	return t, nil
}

func (t *tailTokenizer) close() {
	if t.cc != nil {
		t.cc.close() // its C statements, then c
	} else if t.c != nil {
		t.c.Close()
	}
	t.db.Close()
}

// buildTail builds a tail of partition part holding the rows with pk above
// from (and up to the newest), replacing the tails above from: from is the
// newest watermark (a new tail) or the watermark before the tails merged.
// While a whole build with pending watermark P is under way, a tail starting
// below P stops at P and replaces only the tails up to P, so that no tail
// straddles P: the whole build's switch replaces the tails up to P and
// keeps those above. It reports whether a tail was built (none when no row
// is above from, or when a whole build switched meanwhile and took its rows
// in).
func (s *Store) buildTail(ctx context.Context, part, from int64) (bool, error) {
	st := s.topk
	st.tail.Lock()
	defer st.tail.Unlock()
	r := rangeOf(part)
	if err := s.dropUnused(ctx, part); err != nil {
		return false, err
	}
	var pending, gen int64
	// (1) The pending watermark and the generation.
	st.mu.Lock()
	err := s.write(ctx, "top-k index: tail start", func(tx *conn) error {
		v, ok, err := loadView(ctx, tx, part)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("no base segment")
		}
		valid := from == v.watermark
		for _, g := range v.tails() {
			valid = valid || g.lo == from+1
		}
		if !valid {
			return fmt.Errorf("a tail cannot start after %d", from)
		}
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(pk), 0) FROM contexts WHERE pk BETWEEN ? AND ?`, r.lo, r.hi).Scan(&pending); err != nil {
			return err
		}
		if p, ok := st.pendP[part]; ok && from < p {
			pending = min(pending, p)
		}
		if from == v.watermark {
			// New rows: at most maxTailSpan of them (no tail is above from).
			pending = min(pending, from+maxTailSpan)
		}
		if pending <= from {
			pending = 0
			return nil
		}
		gen, err = nextGen(ctx, tx, part, pending)
		return err
	})
	landed := true
	land := func() {
		if !landed {
			st.mu.Lock()
			st.land(gen)
			st.mu.Unlock()
			landed = true
		}
	}
	if err == nil && pending > 0 {
		st.flying[gen]++
		landed = false
		defer land()
	}
	st.mu.Unlock()
	if err != nil || pending == 0 {
		return false, err
	}
	if err := s.topk.at("start"); err != nil {
		return false, err
	}
	// (2) The rows, tokenized, and their posting lists, on one snapshot.
	tk := newTailTokens(from, pending, st.ftsTail.Load())
	defer tk.close()
	var mark int64
	err = s.read(ctx, "top-k index: tail rows", func(tx *conn) error {
		var err error
		if mark, err = dirtyMark(ctx, tx); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT pk, title, content FROM contexts WHERE pk BETWEEN ? AND ?`, from+1, pending)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				pk             int64
				title, content sql.RawBytes
			)
			if err := rows.Scan(&pk, &title, &content); err != nil {
				return err
			}
			if err := tk.add(ctx, pk, title, content); err != nil {
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return tk.finish(ctx)
	})
	if err != nil {
		return false, err
	}
	w := &postingWriter{ctx: ctx, s: s, part: part, gen: gen}
	if err := tk.postings(ctx, r.lo, w.add); err != nil {
		return false, err
	}
	docs, tokens := tk.docs, tk.tokens
	if err := w.flush(); err != nil {
		return false, err
	}
	// (3) The switch: the tail replaces those above from (up to pending),
	// unless a whole build took its rows in meanwhile.
	var live []int64
	superseded := false
	st.mu.Lock()
	err = s.write(ctx, "top-k index: tail switch", func(tx *conn) error {
		v, ok, err := loadView(ctx, tx, part)
		if err != nil || !ok {
			return errors.Join(err, errors.New("no base segment"))
		}
		if from < v.base().watermark {
			superseded = true
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM topk_tails WHERE part = ? AND lo > ? AND lo <= ?`, part, from, pending); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO topk_tails (part, gen, lo, watermark, docs, tokens, built_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			part, gen, from+1, pending, docs, tokens, s.clock().UnixNano()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM topk_dirty WHERE pk BETWEEN ? AND ? AND n <= ?`, from+1, pending, mark); err != nil {
			return err
		}
		v, ok, err = loadView(ctx, tx, part) // checks the tails follow
		if err != nil || !ok {
			return errors.Join(err, errors.New("no base segment"))
		}
		live = v.gens()
		return nil
	})
	return s.switched(ctx, part, live, superseded, err, land)
}

// switched ends a tail build's or merge's switch transaction (err its
// error), called with topk.mu held, which it releases: the cache serves the
// new view's generations; a tail that a whole build superseded meanwhile
// lands unused; then the generations no view holds are dropped. It reports
// whether the tail took effect.
func (s *Store) switched(ctx context.Context, part int64, live []int64, superseded bool, err error, land func()) (bool, error) {
	st := s.topk
	if err == nil && !superseded {
		st.cache.setLive(part, live)
	}
	st.mu.Unlock()
	if err != nil {
		return false, err
	}
	if superseded {
		land()
		return false, s.dropUnused(ctx, part)
	}
	if err := st.at("switch"); err != nil {
		return false, err
	}
	// (4) The generations replaced.
	return true, s.dropUnused(ctx, part)
}

// nextGen sets partition part's pending watermark to at least pending and
// hands out its next generation, in a build's first write transaction.
func nextGen(ctx context.Context, tx *conn, part, pending int64) (int64, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO topk_segments (part, pending) VALUES (?1, ?2)
		ON CONFLICT (part) DO UPDATE SET pending = max(pending, ?2)`, part, pending); err != nil {
		return 0, err
	}
	var gen int64
	if err := tx.QueryRowContext(ctx, `UPDATE topk_segments SET next_gen = max(next_gen, gen,
		coalesce((SELECT max(gen) FROM topk_tails WHERE part = ?1), 0)) + 1 WHERE part = ?1 RETURNING next_gen`, part).Scan(&gen); err != nil {
		return 0, err
	}
	return gen, nil
}

// land forgets a generation being built (under mu).
func (st *topkState) land(gen int64) {
	if st.flying[gen]--; st.flying[gen] <= 0 {
		delete(st.flying, gen)
	}
}

// dropUnused deletes the posting lists of partition part whose generation
// is neither in its view nor being built (replaced, or of a build that did
// not finish), a few thousand at a time. Generations are never handed out
// twice, so one found dead stays dead.
func (s *Store) dropUnused(ctx context.Context, part int64) error {
	live := map[int64]bool{}
	var gens []int64
	s.topk.mu.Lock() // no switch meanwhile
	for g := range s.topk.flying {
		live[g] = true
	}
	err := s.read(ctx, "top-k index: generations", func(tx *conn) error {
		var base int64
		err := tx.QueryRowContext(ctx, `SELECT gen FROM topk_segments WHERE part = ?`, part).Scan(&base)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		live[base] = live[base] || base > 0
		rows, err := tx.QueryContext(ctx, `SELECT gen FROM topk_tails WHERE part = ?`, part)
		if err != nil {
			return err
		}
		for rows.Next() {
			var g int64
			if err := rows.Scan(&g); err != nil {
				rows.Close()
				return err
			}
			live[g] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// The generations present, one seek each.
		g := int64(math.MinInt64)
		for {
			err := tx.QueryRowContext(ctx, `SELECT gen FROM topk_postings WHERE part = ? AND gen > ? ORDER BY gen LIMIT 1`, part, g).Scan(&g)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			if !live[g] {
				gens = append(gens, g)
			}
		}
	})
	s.topk.mu.Unlock()
	if err != nil {
		return err
	}
	for _, g := range gens {
		if err := s.dropGeneration(ctx, part, g); err != nil {
			return err
		}
	}
	return nil
}

// postingWriter writes a build's posting lists, a few thousand terms (or 4
// MiB) per write transaction.
type postingWriter struct {
	ctx       context.Context
	s         *Store
	part, gen int64
	batch     []postingRow
	bytes     int
}

func (w *postingWriter) add(p postingRow) error {
	w.batch = append(w.batch, p)
	w.bytes += len(p.blob) + len(p.term)
	if w.bytes >= 4<<20 || len(w.batch) >= 5000 {
		return w.flush()
	}
	return nil
}

func (w *postingWriter) flush() error {
	if len(w.batch) == 0 {
		return nil
	}
	rows := w.batch
	w.batch, w.bytes = nil, 0
	ctx := w.ctx
	err := w.s.write(ctx, "top-k index: postings", func(tx *conn) error {
		for _, p := range rows {
			if _, err := tx.ExecContext(ctx, `INSERT INTO topk_postings (part, gen, term, df, postings) VALUES (?, ?, ?, ?, ?)`,
				w.part, w.gen, p.term, p.df, p.blob); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return w.s.topk.at("postings")
}

// collectPostings reads fts5vocab 'instance' rows (term, doc, col; by term,
// then doc) and emits each term's posting list, encoded from lo, with each
// row's length from size.
func collectPostings(rows *sql.Rows, lo int64, size func(pk int64) uint32, emit func(postingRow) error) error {
	pc := postingCollector{lo: lo, size: size, emit: emit}
	_, _, err := pc.chunk(rows, math.MaxInt64) // one chunk: every row
	return err
}

// postingCollector turns fts5vocab 'instance' rows, in their order (by
// term, then doc), into each term's posting list, encoded from lo, with
// each row's length from size.
type postingCollector struct {
	lo   int64
	size func(pk int64) uint32
	emit func(postingRow) error

	term   string
	pks    []int64
	ws, ds []uint32
	buf    []byte
	lastP  int64
}

// add takes one token: term (which add copies if it keeps it) in row pk,
// in the title or the content.
func (pc *postingCollector) add(term string, pk int64, title bool) error {
	w := uint32(contentWeight)
	if title {
		w = titleWeight
	}
	return pc.addWeight(term, pk, w)
}

// addWeight takes tokens of term in row pk weighing w together, as add
// would one by one.
func (pc *postingCollector) addWeight(term string, pk int64, w uint32) error {
	if term != pc.term || len(pc.pks) == 0 {
		if err := pc.flush(); err != nil {
			return err
		}
		pc.term, pc.lastP = strings.Clone(term), 0
	}
	if pk != pc.lastP {
		pc.pks, pc.ws, pc.ds = append(pc.pks, pk), append(pc.ws, 0), append(pc.ds, pc.size(pk))
		pc.lastP = pk
	}
	pc.ws[len(pc.ws)-1] += w
	return nil
}

// chunk adds the rows of rows (fts5vocab 'instance' rows: term, doc, col;
// by term, then doc) until it has added at least max of them and the term
// changes. It then emits the last whole term and returns the next one,
// whose rows it did not take, for the next chunk to start from; done when
// rows ran out (every term emitted).
func (pc *postingCollector) chunk(rows *sql.Rows, max int64) (next string, done bool, err error) {
	var (
		rawTerm, rawCol sql.RawBytes
		pk, n           int64
	)
	for rows.Next() {
		if err := rows.Scan(&rawTerm, &pk, &rawCol); err != nil {
			return "", false, err
		}
		// A view of the scanned bytes: add keeps a copy when the term changes.
		term := unsafe.String(unsafe.SliceData(rawTerm), len(rawTerm))
		if n >= max && term != pc.term {
			return strings.Clone(term), false, pc.flush()
		}
		if err := pc.add(term, pk, string(rawCol) == "title"); err != nil {
			return "", false, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return "", false, err
	}
	return "", true, pc.flush()
}

// flush emits the current term's list, if any.
func (pc *postingCollector) flush() error {
	if len(pc.pks) == 0 {
		return nil
	}
	pc.buf = encodePostings(pc.buf, pc.lo, pc.pks, pc.ws, pc.ds)
	p := postingRow{term: pc.term, df: int64(len(pc.pks)), blob: append([]byte(nil), pc.buf...)}
	pc.pks, pc.ws, pc.ds = pc.pks[:0], pc.ws[:0], pc.ds[:0]
	return pc.emit(p)
}

// topkBuild runs plan on partition part and logs it.
func (s *Store) topkBuild(ctx context.Context, part int64, plan topkPlan) error {
	start := time.Now()
	switch plan.kind {
	case buildWhole:
		if err := s.buildTopK(ctx, part); err != nil {
			return err
		}
		took := time.Since(start)
		s.topk.mu.Lock()
		s.topk.last[part] = buildRecord{at: time.Now(), took: took}
		s.topk.mu.Unlock()
		s.log.Info("top-k index segment built", "partition", part, "why", plan.why, "took", took)
	case buildTail:
		built, err := s.buildTail(ctx, part, plan.from)
		if err != nil || !built {
			return err
		}
		s.log.Info("top-k index tail built", "partition", part, "why", plan.why, "after", plan.from&pkMask, "took", time.Since(start))
	case buildMerge:
		merged, err := s.mergeTails(ctx, part, plan.from)
		if err != nil || !merged {
			return err
		}
		s.log.Info("top-k index tails merged", "partition", part, "after", plan.from&pkMask, "took", time.Since(start))
	default:
		return nil
	}
	return s.warmColumns(ctx, []int64{part})
}
