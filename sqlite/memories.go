package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/contextd/contextd"
)

const memoryCols = `m.pk, m.id, m.type, m.content, m.importance, m.confidence, m.tags, m.timestamp, m.source,
	m.session_id, m.user_id, m.metadata, m.created_at, m.updated_at, m.expires_at, m.version`

func scanMemory(row scanner, extra ...any) (*contextd.Memory, int64, error) {
	var (
		m                 contextd.Memory
		pk                int64
		tags, meta        string
		ts, created, updt int64
		expires           sql.NullInt64
	)
	dest := append([]any{&pk, &m.ID, &m.Type, &m.Content, &m.Importance, &m.Confidence, &tags, &ts, &m.Source,
		&m.SessionID, &m.UserID, &meta, &created, &updt, &expires, &m.Version}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, 0, err
	}
	var err error
	if m.Tags, err = decodeTags(tags); err != nil {
		return nil, 0, fmt.Errorf("memory %q: tags: %w", m.ID, err)
	}
	if m.Metadata, err = decodeObject(meta); err != nil {
		return nil, 0, fmt.Errorf("memory %q: metadata: %w", m.ID, err)
	}
	m.Timestamp, m.CreatedAt, m.UpdatedAt = fromNanos(ts), fromNanos(created), fromNanos(updt)
	m.ExpiresAt = fromNullNanos(expires)
	return &m, pk, nil
}

// live adds the scope's walls and the expiry on memory alias m.
func (b *sqlBuilder) live(sc contextd.Scope, m string, now time.Time) {
	b.visible(sc, m)
	b.add("("+m+".expires_at IS NULL OR "+m+".expires_at > ?)", nanos(now))
}

func getMemory(ctx context.Context, q *conn, sc contextd.Scope, id string, now time.Time) (*contextd.Memory, int64, error) {
	var b sqlBuilder
	b.live(sc, "m", now)
	b.add("m.id = ?", id)
	m, pk, err := scanMemory(q.QueryRowContext(ctx, `SELECT `+memoryCols+` FROM memories m WHERE `+b.where(), b.args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, notFound("memory", id)
	}
	return m, pk, err
}

func writeMemoryTags(ctx context.Context, tx *conn, tenant string, pk int64, tags []string, created time.Time) error {
	for _, t := range tags {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO memory_tags (memory_pk, tenant, tag, created_at) VALUES (?, ?, ?, ?)`,
			pk, tenant, t, nanos(created)); err != nil {
			return err
		}
	}
	return nil
}

// CreateMemories implements contextd.MemoryStore.
func (s *Store) CreateMemories(ctx context.Context, sc contextd.Scope, items []contextd.MemoryCreate) ([]*contextd.Memory, error) {
	if len(items) == 0 {
		return []*contextd.Memory{}, nil
	}
	now := s.clock()
	out := make([]*contextd.Memory, len(items))
	prep := prepareMemories(sc, items, now)
	vectors := hasVector(items, func(it *contextd.MemoryCreate) []float32 { return it.Vector })
	err := s.write(ctx, "create memories", func(tx *conn) error {
		touched := map[string]bool{}
		var first int64
		for i := range prep {
			p, it := &prep[i], &items[i]
			if p.m == nil {
				return p.err // not valid
			}
			m := p.m
			if !touched[m.SessionID] {
				touched[m.SessionID] = true
				if err := s.ensureSession(ctx, tx, sc, m.SessionID, m.UserID, now, true, "items["+strconv.Itoa(i)+"].sessionId"); err != nil {
					return err
				}
			}
			if p.err != nil {
				return p.err
			}
			if i == 0 {
				var err error
				if first, err = newAllocator("memories", sc.Tenant).newPKs(ctx, tx, int64(len(prep))); err != nil {
					return err
				}
			}
			pk := first + int64(i)
			_, err := tx.ExecContext(ctx, `INSERT INTO memories (pk, tenant, id, type, content, importance, importance_rank,
				confidence, tags, timestamp, source, session_id, user_id, metadata, created_at, updated_at, expires_at, version)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`, pk, sc.Tenant, m.ID, m.Type, m.Content, m.Importance, contextd.ImportanceRank(m.Importance),
				m.Confidence, p.tags, nanos(m.Timestamp), m.Source, m.SessionID, m.UserID, p.meta, nanos(now), nanos(now),
				nullNanos(m.ExpiresAt))
			if err != nil {
				if isUnique(err) {
					loc := "items[" + strconv.Itoa(i) + "]"
					return conflict(loc+".id", "%s: memory id %q is already taken", loc, m.ID)
				}
				return err
			}
			if err := insertIndexes(ctx, tx, memoryIndex, pk, m.Content); err != nil {
				return err
			}
			if err := putVector(ctx, tx, contextd.VectorMemory, pk, it.Vector, it.VectorModel); err != nil {
				return err
			}
			if err := writeMemoryTags(ctx, tx, sc.Tenant, pk, m.Tags, now); err != nil {
				return err
			}
			if err := insertChange(ctx, tx, p.change, now); err != nil {
				return err
			}
			out[i] = m
		}
		if vectors {
			return markEpoch(ctx, tx, contextd.VectorMemory, now)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.memoriesCreated(sc.Tenant, items, out)
	return out, nil
}

// GetMemory implements contextd.MemoryStore.
func (s *Store) GetMemory(ctx context.Context, sc contextd.Scope, id string) (*contextd.Memory, error) {
	now := s.clock()
	var m *contextd.Memory
	err := s.read(ctx, "get memory", func(tx *conn) error {
		var err error
		m, _, err = getMemory(ctx, tx, sc, id, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// FindMemories implements contextd.MemoryStore.
func (s *Store) FindMemories(ctx context.Context, sc contextd.Scope, f contextd.MemoryFilter) ([]*contextd.Memory, string, error) {
	now := s.clock()
	var b sqlBuilder
	b.live(sc, "m", now)
	if f.SessionID != "" {
		b.add("m.session_id = ?", f.SessionID)
	}
	if f.UserID != "" {
		b.add("m.user_id = ?", f.UserID)
	}
	if f.Type != "" {
		b.add("m.type = ?", f.Type)
	}
	if f.Importance != "" {
		b.add("m.importance = ?", f.Importance)
	}
	if f.Source != "" {
		b.add("m.source = ?", f.Source)
	}
	memoryTagFilter(&b, f.Tags)
	order, err := b.keyset("m", f.Cursor, f.Ascending)
	if err != nil {
		return nil, "", err
	}
	limit := listLimit(f.Limit)
	out := []*contextd.Memory{}
	var next string
	err = s.read(ctx, "find memories", func(tx *conn) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+memoryCols+` FROM memories m WHERE `+b.where()+` ORDER BY `+order+` LIMIT ?`,
			append(b.args, limit+1)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, _, err := scanMemory(rows)
			if err != nil {
				return err
			}
			if len(out) == limit {
				last := out[len(out)-1]
				next = encodeCursor(nanos(last.CreatedAt), last.ID)
				break
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

func memoryTagFilter(b *sqlBuilder, tags []string) {
	for _, t := range tags {
		b.add("EXISTS (SELECT 1 FROM memory_tags t WHERE t.memory_pk = m.pk AND t.tag = ?)", t)
	}
}

// UpdateMemory implements contextd.MemoryStore.
func (s *Store) UpdateMemory(ctx context.Context, sc contextd.Scope, id string, u contextd.MemoryUpdate) (*contextd.Memory, error) {
	now := s.clock()
	var m *contextd.Memory
	err := s.write(ctx, "update memory", func(tx *conn) error {
		var (
			pk  int64
			err error
		)
		if m, pk, err = getMemory(ctx, tx, sc, id, now); err != nil {
			return err
		}
		if u.IfVersion != 0 && u.IfVersion != m.Version {
			return contextd.Errorf(contextd.EPRECONDITION, "memory %q is at version %d, not %d", id, m.Version, u.IfVersion)
		}
		if u.Type != nil {
			m.Type = *u.Type
		}
		if u.Content != nil && *u.Content != m.Content {
			if err := unindexMemory(ctx, tx, pk, m.Content); err != nil {
				return err
			}
			m.Content = *u.Content
			if err := indexMemory(ctx, tx, pk, m.Content); err != nil {
				return err
			}
		}
		if u.Importance != nil {
			if contextd.ImportanceRank(*u.Importance) == 0 {
				return contextd.Invalid("body.importance", "must be one of low, medium, high, critical")
			}
			m.Importance = *u.Importance
		}
		if u.Confidence != nil {
			m.Confidence = *u.Confidence
		}
		if u.Source != nil {
			m.Source = *u.Source
		}
		if u.Metadata != nil {
			m.Metadata = *u.Metadata
			if m.Metadata == nil {
				m.Metadata = map[string]any{}
			}
		}
		if u.ExpiresAt != nil {
			m.ExpiresAt = nil
			if *u.ExpiresAt != nil {
				t := (*u.ExpiresAt).UTC()
				m.ExpiresAt = &t
			}
		}
		if u.Tags != nil {
			m.Tags = *u.Tags
			if m.Tags == nil {
				m.Tags = []string{}
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM memory_tags WHERE memory_pk = ?`, pk); err != nil {
				return err
			}
			if err := writeMemoryTags(ctx, tx, sc.Tenant, pk, m.Tags, m.CreatedAt); err != nil {
				return err
			}
		}
		tags, err := jsonText(m.Tags)
		if err != nil {
			return err
		}
		meta, err := jsonText(m.Metadata)
		if err != nil {
			return err
		}
		m.Version++
		m.UpdatedAt = now
		if _, err := tx.ExecContext(ctx, `UPDATE memories SET type = ?, content = ?, importance = ?, importance_rank = ?,
			confidence = ?, tags = ?, source = ?, metadata = ?, expires_at = ?, updated_at = ?, version = ? WHERE pk = ?`,
			m.Type, m.Content, m.Importance, contextd.ImportanceRank(m.Importance), m.Confidence, tags, m.Source, meta,
			nullNanos(m.ExpiresAt), nanos(now), m.Version, pk); err != nil {
			return err
		}
		if err := logPut(ctx, tx, sc, contextd.OpUpdate, memoryRecord(sc, m), now); err != nil {
			return err
		}
		if err := putVector(ctx, tx, contextd.VectorMemory, pk, u.Vector, u.VectorModel); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET last_active_at = ?, updated_at = ? WHERE tenant = ? AND id = ?`,
			nanos(now), nanos(now), sc.Tenant, m.SessionID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // a memory whose session was deleted: nothing to log
		}
		return logSession(ctx, tx, sc, contextd.OpUpdate, m.SessionID, now)
	})
	if err != nil {
		return nil, err
	}
	s.memoriesWritten(sc.Tenant, u.VectorModel, []*contextd.Memory{m}, [][]float32{u.Vector})
	return m, nil
}

// DeleteMemory implements contextd.MemoryStore. An expired memory is already
// gone for the API: deleting it is ENOTFOUND.
func (s *Store) DeleteMemory(ctx context.Context, sc contextd.Scope, id string) error {
	now := s.clock()
	defer s.vectorsRemoved(sc.Tenant, contextd.VectorMemory, id)
	return s.write(ctx, "delete memory", func(tx *conn) error {
		return deleteMemoryTx(ctx, tx, sc, id, now, now)
	})
}

// deleteMemoryTx deletes one visible memory, live at liveAt (any memory
// when liveAt is zero), and logs it.
func deleteMemoryTx(ctx context.Context, tx *conn, sc contextd.Scope, id string, liveAt, now time.Time) error {
	var b sqlBuilder
	if liveAt.IsZero() {
		b.visible(sc, "m")
	} else {
		b.live(sc, "m", liveAt)
	}
	b.add("m.id = ?", id)
	var (
		pk              int64
		content, userID string
		version         int64
	)
	err := tx.QueryRowContext(ctx, `DELETE FROM memories AS m WHERE `+b.where()+` RETURNING pk, content, user_id, version`, b.args...).
		Scan(&pk, &content, &userID, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("memory", id)
	} else if err != nil {
		return err
	}
	if err := unindexMemory(ctx, tx, pk, content); err != nil {
		return err
	}
	return logDelete(ctx, tx, sc, contextd.KindMemory, id, userID, version, now)
}

// indexMemory adds a memory's text to both full-text indexes (see indexContext).
func indexMemory(ctx context.Context, tx *conn, pk int64, content string) error {
	return insertIndexes(ctx, tx, memoryIndex, pk, content)
}

// unindexMemory removes a memory's text, as it was indexed, from both.
func unindexMemory(ctx context.Context, tx *conn, pk int64, content string) error {
	if err := countText(ctx, tx, memoryIndex, pk, -1); err != nil { // the tenant's counts (textstats.go)
		return err
	}
	for _, ix := range []string{memoryIndex.stem, memoryIndex.raw} {
		tx.markFTS(ix, pk)
		ix = ftsName(ix, shardOf(pk))
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+ix+` (`+ix+`, rowid, content) VALUES ('delete', ?, ?)`, pk, content); err != nil {
			return err
		}
	}
	return nil
}

// SearchMemories implements contextd.MemoryStore: BM25 candidates from the
// full-text index (or the newest memories without a query) that pass the
// filters, reranked with contextd.MemoryScore.
func (s *Store) SearchMemories(ctx context.Context, sc contextd.Scope, q contextd.MemorySearch) ([]*contextd.MemoryHit, error) {
	now := s.clock()
	limit := q.Limit
	if limit <= 0 {
		limit = 10
	}
	limit = min(limit, contextd.MaxListLimit)
	candidates := max(200, 10*limit)

	var b sqlBuilder
	b.live(sc, "m", now)
	if q.SessionID != "" {
		b.add("m.session_id = ?", q.SessionID)
	}
	if q.UserID != "" {
		b.add("m.user_id = ?", q.UserID)
	}
	if len(q.Types) > 0 {
		b.add("m.type IN (SELECT value FROM json_each(?))", idList(q.Types))
	}
	if q.MinImportance != "" {
		b.add("m.importance_rank >= ?", contextd.ImportanceRank(q.MinImportance))
	}
	if q.MinConfidence > 0 {
		b.add("m.confidence >= ?", q.MinConfidence)
	}
	memoryTagFilter(&b, q.Tags)

	parsed := contextd.ParseQuery(q.Query)
	var hits []*contextd.MemoryHit
	run := func(tx *conn, fq ftsQuery) error {
		hits = hits[:0]
		hasQuery := fq.ranked()
		if hasQuery && !s.shardScores.Load() {
			return s.rankedMemories(ctx, tx, fq, &b, candidates, now, &hits)
		}
		// The newest memories without a query; with one and shardScores
		// (tests' oracle), FTS5's bm25() over the index shard.
		from, args := memoryIndex.at(fq.r).from(fq, "m", b.where(), b.args, hasQuery)
		score, order := "0.0", "m.created_at DESC, m.id DESC"
		if hasQuery {
			score, order = "-fm.b", "fm.b, "+order
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+memoryCols+`, `+score+from+` ORDER BY `+order+` LIMIT ?`,
			append(args, candidates)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var bm float64
			m, _, err := scanMemory(rows, &bm)
			if err != nil {
				return err
			}
			hits = append(hits, &contextd.MemoryHit{Memory: m, Score: contextd.MemoryScore(bm, hasQuery, m, now)})
		}
		return rows.Err()
	}
	err := s.read(ctx, "search memories", func(tx *conn) error {
		r, err := s.tenantRange(ctx, tx, sc.Tenant)
		if err != nil {
			return err
		}
		err = withQuery(ctx, parsed, r, func(fq ftsQuery) error { return run(tx, fq) })
		if errors.Is(err, errNoMatch) {
			hits = nil
			return nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(hits, func(i, j int) bool {
		a, b := hits[i], hits[j]
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		if !a.Memory.CreatedAt.Equal(b.Memory.CreatedAt) {
			return a.Memory.CreatedAt.After(b.Memory.CreatedAt)
		}
		return a.Memory.ID > b.Memory.ID
	})
	if len(hits) > limit {
		hits = hits[:limit]
	}
	if hits == nil {
		hits = []*contextd.MemoryHit{}
	}
	return hits, nil
}

// rankedMemories appends to hits the best candidates memories of the
// tenant matching fq and passing the filters b, by BM25 over the tenant's
// own memories (search_tenant.go: never over the index shard, which holds
// other tenants' memories too), each with its contextd.MemoryScore. The
// matches are tested against the filters best first, a chunk at a time,
// until candidates pass.
func (s *Store) rankedMemories(ctx context.Context, tx *conn, fq ftsQuery, b *sqlBuilder, candidates int, now time.Time, hits *[]*contextd.MemoryHit) error {
	all, err := tenantMatches(ctx, tx, memoryIndex, fq)
	if err != nil {
		return err
	}
	// Best first; among equal scores the newest (pks grow with time).
	slices.SortFunc(all, func(x, y match) int {
		if x.score != y.score {
			return cmp.Compare(y.score, x.score)
		}
		return cmp.Compare(y.pk, x.pk)
	})
	for lo := 0; lo < len(all) && len(*hits) < candidates; {
		hi := min(len(all), lo+max(64, 2*(candidates-len(*hits))))
		chunk := all[lo:hi]
		lo = hi
		score := make(map[int64]float64, len(chunk))
		pks := make([]int64, len(chunk))
		for i, m := range chunk {
			score[m.pk], pks[i] = m.score, m.pk
		}
		// The candidates drive the join (CROSS JOIN keeps that order): one
		// pk lookup each, not a scan of the tenant's memories.
		rows, err := tx.QueryContext(ctx, `SELECT `+memoryCols+` FROM json_each(?) AS j CROSS JOIN memories m ON m.pk = j.value WHERE `+b.where(),
			append([]any{idList(pks)}, b.args...)...)
		if err != nil {
			return err
		}
		type passed struct {
			m  *contextd.Memory
			pk int64
		}
		var ok []passed
		for rows.Next() {
			m, pk, err := scanMemory(rows)
			if err != nil {
				rows.Close()
				return err
			}
			ok = append(ok, passed{m, pk})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		slices.SortFunc(ok, func(x, y passed) int {
			if sx, sy := score[x.pk], score[y.pk]; sx != sy {
				return cmp.Compare(sy, sx)
			}
			return cmp.Compare(y.pk, x.pk)
		})
		for _, p := range ok[:min(len(ok), candidates-len(*hits))] {
			*hits = append(*hits, &contextd.MemoryHit{Memory: p.m, Score: contextd.MemoryScore(score[p.pk], true, p.m, now)})
		}
	}
	return nil
}
