package sqlite

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/contextd/contextd"
)

// Filter columns of the top-k index (issue 3). A filtered search on the
// index used to seek every match's row to test the filters (~3 us a match,
// and every match for the total). The filterable fields of a segment's rows
// are held beside it in memory instead, one compact column each, so that a
// match is tested in the merge loop itself:
//
//   - type, status, user and session as dictionary codes, 1, 2 or 4 bytes a
//     row as the dictionary needs; createdAt as int64 nanoseconds;
//   - the tags and the metadata as the id of the row's set of codes (a set
//     of tags, a set of top-level scalar metadata key=value pairs), the sets
//     themselves kept once each: rows share few distinct sets;
//   - a flag per row: present, and "metadata only SQL can compare" (a
//     duplicate key, or an integer beyond 2^53 that float64 would round):
//     such a row is tested by its row when the query filters on metadata.
//
// The columns are read from the rows (one read snapshot) the first time a
// filtered search needs them for a generation (and right after a build),
// not stored: a row's filter fields can change only by an update, which
// records the row in topk_dirty (UpdateContext), and dirty rows are read
// from FTS5 and tested by their row. So for every row a search takes from
// the segment, the columns hold its current values. They are charged to
// the posting cache's budget (SEARCH_INDEX_CACHE_MB); a tenant whose
// columns would take more than half of it keeps the row-seek path.

// codeCol is a column of dictionary codes, w bytes each.
type codeCol struct {
	w int
	b []byte
}

func newCodeCol(codes []uint32, n int) codeCol {
	w := 1
	switch {
	case n > 1<<16:
		w = 4
	case n > 1<<8:
		w = 2
	}
	c := codeCol{w: w, b: make([]byte, len(codes)*w)}
	for i, v := range codes {
		switch w {
		case 1:
			c.b[i] = byte(v)
		case 2:
			binary.LittleEndian.PutUint16(c.b[2*i:], uint16(v))
		default:
			binary.LittleEndian.PutUint32(c.b[4*i:], v)
		}
	}
	return c
}

func (c *codeCol) get(i int) uint32 {
	switch c.w {
	case 1:
		return uint32(c.b[i])
	case 2:
		return uint32(binary.LittleEndian.Uint16(c.b[2*i:]))
	}
	return binary.LittleEndian.Uint32(c.b[4*i:])
}

// dict numbers the distinct strings of a column, from 0.
type dict struct {
	codes map[string]uint32
	names []string
	bytes int64
}

func newDict() *dict { return &dict{codes: map[string]uint32{}} }

func (d *dict) code(s string) uint32 {
	if c, ok := d.codes[s]; ok {
		return c
	}
	c := uint32(len(d.names))
	d.codes[s] = c
	d.names = append(d.names, s)
	d.bytes += int64(2*len(s)) + 64
	return c
}

func (d *dict) lookup(s string) (uint32, bool) {
	c, ok := d.codes[s]
	return c, ok
}

// setCol is a column of code sets: each row's set id, and the sets.
type setCol struct {
	ids   codeCol
	sets  [][]uint32
	codes *dict // the members' dictionary
}

// Row flags.
const (
	colPresent   = 1 << iota // the row existed when the columns were read
	colMetaByRow             // its metadata is compared by its row (see above)
)

// docColumns are the filter columns of one segment: row i is pk lo+i.
type docColumns struct {
	lo                 int64
	flags              []byte
	created            []int64
	typ, status        codeCol
	user, session      codeCol
	typD, statD        *dict
	userD, sessD       *dict
	tags, meta         setCol
	size               int64
	tooBig             bool // over the budget: not kept, searches seek rows
	loadedAt, loadDone time.Time
}

func (c *docColumns) bytes() int64 { return c.size }

// metaAtom is the code name of a top-level metadata value as SQL compares
// it (json_type, json_extract = ?): null, true, false, text, or a number by
// its float64 value (integers up to 2^53 are exact, -0 is 0). ok is false
// for an integer float64 cannot hold exactly.
func metaAtom(key, jtype string, atom any) (string, bool) {
	p := key + "\x00"
	switch jtype {
	case "null":
		return p + "n", true
	case "true":
		return p + "t", true
	case "false":
		return p + "f", true
	case "text":
		s, ok := atom.(string)
		if !ok {
			if b, isB := atom.([]byte); isB {
				s, ok = string(b), true
			}
		}
		return p + "s" + s, ok
	case "integer":
		v, ok := atom.(int64)
		if !ok || v > 1<<53 || v < -(1<<53) {
			return "", false
		}
		return p + numName(float64(v)), true
	case "real":
		v, ok := atom.(float64)
		if !ok {
			return "", false
		}
		return p + numName(v), true
	}
	return "", true // object, array: no filter value equals them
}

func numName(v float64) string {
	if v == 0 {
		v = 0 // -0 is 0
	}
	return "d" + strconv.FormatFloat(v, 'g', -1, 64)
}

// filterAtom is metaAtom for a filter value (searchFilters' cases); ok is
// false for a value the columns cannot compare exactly.
func filterAtom(key string, v any) (string, bool) {
	p := key + "\x00"
	switch v := v.(type) {
	case nil:
		return p + "n", true
	case bool:
		if v {
			return p + "t", true
		}
		return p + "f", true
	case string:
		return p + "s" + v, true
	case float64:
		return p + numName(v), true
	case float32:
		return p + numName(float64(v)), true
	case int:
		return filterInt(p, int64(v))
	case int64:
		return filterInt(p, v)
	case int32:
		return filterInt(p, int64(v))
	case json.Number:
		n, err := v.Float64()
		if err != nil {
			return "", false
		}
		return p + numName(n), true
	}
	return "", false
}

func filterInt(p string, v int64) (string, bool) {
	if v > 1<<53 || v < -(1<<53) {
		return "", false
	}
	return p + numName(float64(v)), true
}

// setBuilder collects the sets of a setCol while the rows are read.
type setBuilder struct {
	codes *dict
	ids   map[string]uint32
	sets  [][]uint32
	bytes int64
}

func newSetBuilder() *setBuilder {
	b := &setBuilder{codes: newDict(), ids: map[string]uint32{}}
	b.id(nil) // set 0: the empty set
	return b
}

// id returns the id of the set of codes (sorted here).
func (b *setBuilder) id(codes []uint32) uint32 {
	slices.Sort(codes)
	codes = slices.Compact(codes)
	k := make([]byte, 4*len(codes))
	for i, c := range codes {
		binary.LittleEndian.PutUint32(k[4*i:], c)
	}
	if id, ok := b.ids[string(k)]; ok {
		return id
	}
	id := uint32(len(b.sets))
	b.ids[string(k)] = id
	b.sets = append(b.sets, slices.Clone(codes))
	b.bytes += int64(4*len(codes)) + 32
	return id
}

// loadColumns reads the filter columns of segment g from the rows, on the
// snapshot of tx.
func loadColumns(ctx context.Context, tx *conn, g segment) (*docColumns, error) {
	start := time.Now()
	lo := g.lo
	n := int(g.watermark-lo) + 1
	var (
		flags             = make([]byte, n)
		created           = make([]int64, n)
		typ, stat         = make([]uint32, n), make([]uint32, n)
		user, sess        = make([]uint32, n), make([]uint32, n)
		tagIDs, metaIDs   = make([]uint32, n), make([]uint32, n)
		typD, statD       = newDict(), newDict()
		userD, sessD      = newDict(), newDict()
		tagB, metaB       = newSetBuilder(), newSetBuilder()
		buf               []uint32
		rawT, rawS        []byte
		rawU, rawSe, rawK []byte
	)
	rows, err := tx.QueryContext(ctx, `SELECT pk, type, status, user_id, session_id, created_at FROM contexts WHERE pk BETWEEN ? AND ?`, lo, g.watermark)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var pk, at int64
		if err := rows.Scan(&pk, &rawT, &rawS, &rawU, &rawSe, &at); err != nil {
			rows.Close()
			return nil, err
		}
		i := int(pk - lo)
		flags[i] = colPresent
		created[i] = at
		typ[i], stat[i] = typD.code(string(rawT)), statD.code(string(rawS))
		user[i], sess[i] = userD.code(string(rawU)), sessD.code(string(rawSe))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Tags, by row (the primary key's order).
	rows, err = tx.QueryContext(ctx, `SELECT context_pk, tag FROM context_tags WHERE context_pk BETWEEN ? AND ? ORDER BY context_pk`, lo, g.watermark)
	if err != nil {
		return nil, err
	}
	last := int64(-1)
	flushTags := func() {
		if last >= 0 {
			tagIDs[last-lo] = tagB.id(buf)
		}
		buf = buf[:0]
	}
	for rows.Next() {
		var pk int64
		if err := rows.Scan(&pk, &rawK); err != nil {
			rows.Close()
			return nil, err
		}
		if pk != last {
			flushTags()
			last = pk
		}
		buf = append(buf, tagB.codes.code(string(rawK)))
	}
	flushTags()
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Metadata: every top-level key of an object, as SQL reads it.
	rows, err = tx.QueryContext(ctx, `SELECT c.pk, j.key, j.type, j.atom FROM contexts c, json_each(c.metadata) j
		WHERE c.pk BETWEEN ? AND ? AND json_type(c.metadata) = 'object'`, lo, g.watermark)
	if err != nil {
		return nil, err
	}
	last = -1
	var keys []string
	byRow := false
	flushMeta := func() {
		if last >= 0 {
			metaIDs[last-lo] = metaB.id(buf)
			if byRow {
				flags[last-lo] |= colMetaByRow
			}
		}
		buf, keys, byRow = buf[:0], keys[:0], false
	}
	for rows.Next() {
		var (
			pk    int64
			key   string
			jtype string
			atom  any
		)
		if err := rows.Scan(&pk, &key, &jtype, &atom); err != nil {
			rows.Close()
			return nil, err
		}
		if pk != last {
			flushMeta()
			last = pk
		}
		if slices.Contains(keys, key) {
			byRow = true // a duplicate key: SQL's path lookup decides
			continue
		}
		keys = append(keys, key)
		name, ok := metaAtom(key, jtype, atom)
		if !ok {
			byRow = true
			continue
		}
		if name != "" {
			buf = append(buf, metaB.codes.code(name))
		}
	}
	flushMeta()
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	c := &docColumns{
		lo: lo, flags: flags, created: created,
		typ: newCodeCol(typ, len(typD.names)), status: newCodeCol(stat, len(statD.names)),
		user: newCodeCol(user, len(userD.names)), session: newCodeCol(sess, len(sessD.names)),
		typD: typD, statD: statD, userD: userD, sessD: sessD,
		tags: setCol{ids: newCodeCol(tagIDs, len(tagB.sets)), sets: tagB.sets, codes: tagB.codes},
		meta: setCol{ids: newCodeCol(metaIDs, len(metaB.sets)), sets: metaB.sets, codes: metaB.codes},
	}
	c.size = int64(len(flags)) + 8*int64(len(created)) + int64(len(c.typ.b)+len(c.status.b)+len(c.user.b)+len(c.session.b)+
		len(c.tags.ids.b)+len(c.meta.ids.b)) + typD.bytes + statD.bytes + userD.bytes + sessD.bytes +
		tagB.bytes + tagB.codes.bytes + metaB.bytes + metaB.codes.bytes + 512
	c.loadedAt, c.loadDone = start, time.Now()
	return c, nil
}

// colFilter is a search's filters compiled against one docColumns.
type colFilter struct {
	c                 *docColumns
	none              bool // no row of the columns passes (metadata by row aside)
	types, statuses   []uint32
	user, session     int64 // -1: any
	after, before     int64
	hasAfter, hasBfr  bool
	tags, meta        []uint32
	hasTags           bool
	metaFilter        bool
	metaNone          bool   // a metadata value no row of the columns holds
	tagMemo, metaMemo []int8 // per set: 0 unknown, 1 passes, -1 fails
}

// compileFilter compiles the filters of a search (and the scope's user) for
// the columns c. ok is false when the columns cannot decide them exactly:
// the caller then tests rows.
func compileFilter(c *docColumns, f contextd.SearchFilters, scopeUser string) (*colFilter, bool) {
	cf := &colFilter{c: c, user: -1, session: -1}
	codes := func(d *dict, vals []string) []uint32 {
		var out []uint32
		for _, v := range vals {
			if code, ok := d.lookup(v); ok {
				out = append(out, code)
			}
		}
		if len(out) == 0 {
			cf.none = true
		}
		return out
	}
	if len(f.Types) > 0 {
		cf.types = codes(c.typD, f.Types)
	}
	if len(f.Statuses) > 0 {
		cf.statuses = codes(c.statD, f.Statuses)
	}
	for _, u := range []string{scopeUser, f.UserID} {
		if u == "" {
			continue
		}
		code, ok := c.userD.lookup(u)
		if !ok || (cf.user >= 0 && cf.user != int64(code)) {
			cf.none = true
		}
		cf.user = int64(code)
	}
	if f.SessionID != "" {
		code, ok := c.sessD.lookup(f.SessionID)
		if !ok {
			cf.none = true
		}
		cf.session = int64(code)
	}
	if !f.CreatedAfter.IsZero() {
		cf.after, cf.hasAfter = nanos(f.CreatedAfter), true
	}
	if !f.CreatedBefore.IsZero() {
		cf.before, cf.hasBfr = nanos(f.CreatedBefore), true
	}
	for _, t := range f.Tags {
		cf.hasTags = true
		code, ok := c.tags.codes.lookup(t)
		if !ok {
			cf.none = true
		}
		cf.tags = append(cf.tags, code)
	}
	for k, v := range f.Metadata {
		cf.metaFilter = true
		name, ok := filterAtom(k, v)
		if !ok {
			return nil, false
		}
		code, ok := c.meta.codes.lookup(name)
		if !ok {
			cf.metaNone = true
		}
		cf.meta = append(cf.meta, code)
	}
	if cf.hasTags {
		cf.tagMemo = make([]int8, len(c.tags.sets))
	}
	if cf.metaFilter {
		cf.metaMemo = make([]int8, len(c.meta.sets))
	}
	return cf, true
}

// test reports whether row i of the columns passes, and byRow when only
// its row can tell.
func (cf *colFilter) test(i int) (pass, byRow bool) {
	c := cf.c
	fl := c.flags[i]
	if fl&colPresent == 0 {
		return false, true // not read (cannot happen for a clean row): ask the row
	}
	if cf.none {
		return false, false
	}
	if cf.types != nil && !slices.Contains(cf.types, c.typ.get(i)) {
		return false, false
	}
	if cf.statuses != nil && !slices.Contains(cf.statuses, c.status.get(i)) {
		return false, false
	}
	if cf.user >= 0 && int64(c.user.get(i)) != cf.user {
		return false, false
	}
	if cf.session >= 0 && int64(c.session.get(i)) != cf.session {
		return false, false
	}
	if cf.hasAfter && c.created[i] <= cf.after {
		return false, false
	}
	if cf.hasBfr && c.created[i] >= cf.before {
		return false, false
	}
	if cf.hasTags && !memoHas(cf.tagMemo, &c.tags, c.tags.ids.get(i), cf.tags) {
		return false, false
	}
	if cf.metaFilter {
		if fl&colMetaByRow != 0 {
			return false, true
		}
		if cf.metaNone || !memoHas(cf.metaMemo, &c.meta, c.meta.ids.get(i), cf.meta) {
			return false, false
		}
	}
	return true, false
}

// memoHas reports whether set id of s holds every code of want, memoized.
func memoHas(memo []int8, s *setCol, id uint32, want []uint32) bool {
	switch memo[id] {
	case 1:
		return true
	case -1:
		return false
	}
	set := s.sets[id]
	ok := true
	for _, w := range want {
		if _, found := slices.BinarySearch(set, w); !found {
			ok = false
			break
		}
	}
	memo[id] = -1
	if ok {
		memo[id] = 1
	}
	return ok
}

// colKey names the columns of a generation of a partition.
type colKey struct{ part, gen int64 }

// colEntry is a generation's columns, loaded once (ready closes).
type colEntry struct {
	ready chan struct{}
	cols  *docColumns
	err   error
}

// columns returns segment g's filter columns, reading them on tx's snapshot
// when no search has yet (others wait for that one). nil: over the budget
// or not available now (the caller tests rows).
func (s *Store) columns(ctx context.Context, tx *conn, g segment) (*docColumns, error) {
	st := s.topk
	key := colKey{g.part, g.gen}
	st.colMu.Lock()
	if c := st.cache.getCols(key); c != nil {
		st.colMu.Unlock()
		if c.tooBig {
			return nil, nil
		}
		return c, nil
	}
	e := st.loading[key]
	if e != nil {
		st.colMu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e.err != nil || e.cols == nil || e.cols.tooBig {
			return nil, nil // the loader's search failed: seek rows this time
		}
		return e.cols, nil
	}
	e = &colEntry{ready: make(chan struct{})}
	st.loading[key] = e
	st.colMu.Unlock()

	e.cols, e.err = loadColumns(ctx, tx, g)
	st.colMu.Lock()
	delete(st.loading, key)
	if e.err == nil {
		c := e.cols
		s.log.Info("top-k index filter columns read", "partition", g.part, "rows", len(c.flags), "bytes", c.size,
			"took", c.loadDone.Sub(c.loadedAt), "kept", c.size <= st.cache.budget/2)
		if c.size > st.cache.budget/2 {
			e.cols = &docColumns{tooBig: true, size: 64}
		}
		st.cache.putCols(key, e.cols)
	}
	st.colMu.Unlock()
	close(e.ready)
	if e.err != nil {
		return nil, fmt.Errorf("top-k index: filter columns of partition %d: %w", g.part, e.err)
	}
	if e.cols.tooBig {
		return nil, nil
	}
	return e.cols, nil
}

// colsRowValues are a row's filter fields as the columns hold them, for
// the check.
type colsRowValues struct {
	typ, status, user, session string
	created                    int64
	tags, meta                 []string
	metaByRow                  bool
}

func (c *docColumns) row(i int) colsRowValues {
	v := colsRowValues{
		typ: c.typD.names[c.typ.get(i)], status: c.statD.names[c.status.get(i)],
		user: c.userD.names[c.user.get(i)], session: c.sessD.names[c.session.get(i)],
		created: c.created[i], metaByRow: c.flags[i]&colMetaByRow != 0,
	}
	for _, code := range c.tags.sets[c.tags.ids.get(i)] {
		v.tags = append(v.tags, c.tags.codes.names[code])
	}
	for _, code := range c.meta.sets[c.meta.ids.get(i)] {
		v.meta = append(v.meta, c.meta.codes.names[code])
	}
	slices.Sort(v.tags)
	slices.Sort(v.meta)
	return v
}

func (v colsRowValues) equal(w colsRowValues) bool {
	return v.typ == w.typ && v.status == w.status && v.user == w.user && v.session == w.session &&
		v.created == w.created && slices.Equal(v.tags, w.tags) && slices.Equal(v.meta, w.meta) && v.metaByRow == w.metaByRow
}

// warmColumns reads the filter columns of the partitions' segments (base
// and tails; all partitions when parts is nil) before a search needs them:
// after a build, and when the store opens.
func (s *Store) warmColumns(ctx context.Context, parts []int64) error {
	return s.read(ctx, "top-k index: filter columns", func(tx *conn) error {
		if parts == nil {
			var err error
			if parts, err = queryInt64s(ctx, tx, `SELECT part FROM topk_segments WHERE gen > 0`); err != nil {
				return err
			}
		}
		for _, p := range parts {
			v, ok, err := loadView(ctx, tx, p)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			for _, g := range v.segs {
				if _, err := s.columns(ctx, tx, g); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
