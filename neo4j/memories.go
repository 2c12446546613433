package neo4j

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/contextd/contextd"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// memProj projects the stored fields of a memory.
const memProj = ` {.id, .type, .content, .importance, .confidence, .tags, .timestamp, .source, .sessionId, .userId,
	.metadata, .createdAt, .updatedAt, .expiresAt, .version}`

func decodeMemory(v any) (*contextd.Memory, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("memory: unexpected %T", v)
	}
	out := &contextd.Memory{
		ID: str(m["id"]), Type: str(m["type"]), Content: str(m["content"]), Importance: str(m["importance"]),
		Confidence: f64(m["confidence"]), Tags: strs(m["tags"]), Timestamp: fromNanos(i64(m["timestamp"])),
		Source: str(m["source"]), SessionID: str(m["sessionId"]), UserID: str(m["userId"]),
		CreatedAt: fromNanos(i64(m["createdAt"])), UpdatedAt: fromNanos(i64(m["updatedAt"])),
		ExpiresAt: optTime(m["expiresAt"]), Version: i64(m["version"]),
	}
	var err error
	if out.Metadata, err = decodeObject(str(m["metadata"])); err != nil {
		return nil, fmt.Errorf("memory %q: metadata: %w", out.ID, err)
	}
	return out, nil
}

// live adds the scope's walls and the expiry on memory alias m.
func (s *Store) live(w *where, sc contextd.Scope, m string, now time.Time) {
	s.visible(w, sc, m)
	w.add("("+m+".expiresAt IS NULL OR "+m+".expiresAt > %s)", nanos(now))
}

func (s *Store) memoryProps(sc contextd.Scope, m *contextd.Memory) (params, error) {
	meta, err := jsonText(m.Metadata)
	if err != nil {
		return nil, err
	}
	sk := s.sk(sc.Tenant)
	ftContent, n := normText(m.Content)
	return params{
		"uk": uk(sk, m.ID), "sk": sk, "tenant": sc.Tenant, "id": m.ID, "type": m.Type, "content": m.Content,
		"importance": m.Importance, "importanceRank": int64(contextd.ImportanceRank(m.Importance)), "confidence": m.Confidence,
		"tags": m.Tags, "timestamp": nanos(m.Timestamp), "source": m.Source, "sessionId": m.SessionID, "userId": m.UserID,
		"metadata": meta, "createdAt": nanos(m.CreatedAt), "updatedAt": nanos(m.UpdatedAt), "expiresAt": nullNanos(m.ExpiresAt),
		"version": m.Version, "ftk": ftk(sk), "ftContent": ftContent, "ftLen": int64(n),
	}, nil
}

func (s *Store) getMemory(ctx context.Context, tx neo4j.ManagedTransaction, sc contextd.Scope, id string, now time.Time, lock bool) (*contextd.Memory, error) {
	w := newWhere(params{"uk": uk(s.sk(sc.Tenant), id)})
	s.live(w, sc, "m", now)
	set := ""
	if lock {
		set = " SET m.lock_ = true"
	}
	row, err := single(ctx, tx, `MATCH (m:Memory {uk: $uk}) WHERE `+w.String()+set+` RETURN m`+memProj+` AS m`, w.p)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, notFound("memory", id)
	}
	return decodeMemory(row["m"])
}

// CreateMemories implements contextd.MemoryStore.
func (s *Store) CreateMemories(ctx context.Context, sc contextd.Scope, items []contextd.MemoryCreate) ([]*contextd.Memory, error) {
	if len(items) == 0 {
		return []*contextd.Memory{}, nil
	}
	now := s.clock()
	sk := s.sk(sc.Tenant)
	out := make([]*contextd.Memory, len(items))
	rows := make([]any, len(items))
	uks := make([]string, len(items))
	seen := map[string]bool{}
	type sess struct{ id, uid, loc string }
	var sessions []sess
	seenSess := map[string]bool{}
	for i := range items {
		loc := "items[" + strconv.Itoa(i) + "]"
		m, err := contextd.NewMemory(sc, &items[i], now, loc)
		if err != nil {
			return nil, err
		}
		if seen[m.ID] {
			return nil, conflict(loc+".id", "%s: memory id %q appears twice in the batch", loc, m.ID)
		}
		seen[m.ID] = true
		if !seenSess[m.SessionID] {
			seenSess[m.SessionID] = true
			sessions = append(sessions, sess{m.SessionID, m.UserID, loc + ".sessionId"})
		}
		p, err := s.memoryProps(sc, m)
		if err != nil {
			return nil, err
		}
		withVector(p, items[i].Vector, items[i].VectorModel)
		out[i], rows[i], uks[i] = m, p, uk(sk, m.ID)
	}
	err := s.write(ctx, "create memories", func(tx neo4j.ManagedTransaction) error {
		taken, err := collect(ctx, tx, `UNWIND $uks AS k MATCH (m:Memory {uk: k}) RETURN m.id AS id`, params{"uks": uks})
		if err != nil {
			return err
		}
		if len(taken) > 0 {
			id := str(taken[0]["id"])
			for i, m := range out {
				if m.ID == id {
					loc := "items[" + strconv.Itoa(i) + "]"
					return conflict(loc+".id", "%s: memory id %q is already taken", loc, id)
				}
			}
		}
		for _, ss := range sessions {
			if err := s.ensureSession(ctx, tx, sc, ss.id, ss.uid, now, true, ss.loc); err != nil {
				return err
			}
		}
		// SET m = row leaves out the null expiresAt of a memory without expiry.
		if err := exec(ctx, tx, `UNWIND $rows AS row CREATE (m:Memory) SET m = row`, params{"rows": rows}); err != nil {
			return err
		}
		if err := s.markVectorEpoch(ctx, tx, contextd.VectorMemory, items[0].Vector != nil, now); err != nil {
			return err
		}
		logs := make([]any, len(out))
		for i, m := range out {
			if logs[i], err = s.putRow(sc, contextd.OpCreate, &contextd.Record{Kind: contextd.KindMemory, Tenant: sc.Tenant, Memory: m}, now); err != nil {
				return err
			}
		}
		return s.logChanges(ctx, tx, logs)
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
	err := s.read(ctx, "get memory", func(tx neo4j.ManagedTransaction) error {
		var err error
		m, err = s.getMemory(ctx, tx, sc, id, now, false)
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
	limit := listLimit(f.Limit)
	w := newWhere(params{"lim": int64(limit + 1)})
	s.live(w, sc, "m", now)
	if f.SessionID != "" {
		w.add("m.sessionId = %s", f.SessionID)
	}
	if f.UserID != "" {
		w.add("m.userId = %s", f.UserID)
	}
	if f.Type != "" {
		w.add("m.type = %s", f.Type)
	}
	if f.Importance != "" {
		w.add("m.importance = %s", f.Importance)
	}
	if f.Source != "" {
		w.add("m.source = %s", f.Source)
	}
	if len(f.Tags) > 0 {
		w.add("all(t IN %s WHERE t IN m.tags)", f.Tags)
	}
	order, err := w.keyset("m", f.Cursor, f.Ascending)
	if err != nil {
		return nil, "", err
	}
	var (
		out  []*contextd.Memory
		next string
	)
	err = s.read(ctx, "find memories", func(tx neo4j.ManagedTransaction) error {
		out, next = []*contextd.Memory{}, ""
		rows, err := collect(ctx, tx, `MATCH (m:Memory) WHERE `+w.String()+` WITH m ORDER BY `+order+` LIMIT $lim RETURN m`+memProj+` AS m`, w.p)
		if err != nil {
			return err
		}
		for _, r := range rows {
			m, err := decodeMemory(r["m"])
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
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// UpdateMemory implements contextd.MemoryStore.
func (s *Store) UpdateMemory(ctx context.Context, sc contextd.Scope, id string, u contextd.MemoryUpdate) (*contextd.Memory, error) {
	now := s.clock()
	var m *contextd.Memory
	err := s.write(ctx, "update memory", func(tx neo4j.ManagedTransaction) error {
		var err error
		if m, err = s.getMemory(ctx, tx, sc, id, now, true); err != nil {
			return err
		}
		if u.IfVersion != 0 && u.IfVersion != m.Version {
			return contextd.Errorf(contextd.EPRECONDITION, "memory %q is at version %d, not %d", id, m.Version, u.IfVersion)
		}
		if u.Type != nil {
			m.Type = *u.Type
		}
		if u.Content != nil {
			m.Content = *u.Content
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
		}
		m.Version++
		m.UpdatedAt = now
		p, err := s.memoryProps(sc, m)
		if err != nil {
			return err
		}
		if err := keepVector(ctx, tx, "Memory", p, u.Vector, u.VectorModel); err != nil {
			return err
		}
		if err := exec(ctx, tx, `MATCH (m:Memory {uk: $uk}) SET m = $props
			WITH m MATCH (s:Session {uk: $session}) SET s.lastActiveAt = $now, s.updatedAt = $now`,
			params{"uk": p["uk"], "props": p, "session": uk(s.sk(sc.Tenant), m.SessionID), "now": nanos(now)}); err != nil {
			return err
		}
		if err := s.logPut(ctx, tx, sc, contextd.OpUpdate, &contextd.Record{Kind: contextd.KindMemory, Tenant: sc.Tenant, Memory: m}, now); err != nil {
			return err
		}
		return s.logSession(ctx, tx, sc, contextd.OpUpdate, m.SessionID, now)
	})
	if err != nil {
		return nil, err
	}
	s.index().Upsert(sc.Tenant, contextd.VectorMemory, u.VectorModel, contextd.MemoryVectorEntry(m, u.Vector))
	return m, nil
}

// DeleteMemory implements contextd.MemoryStore. An expired memory is already
// gone for the API: deleting it is ENOTFOUND.
func (s *Store) DeleteMemory(ctx context.Context, sc contextd.Scope, id string) error {
	now := s.clock()
	defer s.vectorsRemoved(sc.Tenant, contextd.VectorMemory, id)
	return s.write(ctx, "delete memory", func(tx neo4j.ManagedTransaction) error {
		return s.deleteMemoryTx(ctx, tx, sc, id, now, now)
	})
}

// SearchMemories implements contextd.MemoryStore: the best BM25 candidates
// of the full-text index (or the newest memories without a query) that pass
// the filters, reranked with contextd.MemoryScore.
func (s *Store) SearchMemories(ctx context.Context, sc contextd.Scope, q contextd.MemorySearch) ([]*contextd.MemoryHit, error) {
	now := s.clock()
	limit := q.Limit
	if limit <= 0 {
		limit = 10
	}
	limit = min(limit, contextd.MaxListLimit)
	candidates := max(200, 10*limit)

	w := newWhere(params{"cand": int64(candidates)})
	s.live(w, sc, "m", now)
	if q.SessionID != "" {
		w.add("m.sessionId = %s", q.SessionID)
	}
	if q.UserID != "" {
		w.add("m.userId = %s", q.UserID)
	}
	if len(q.Types) > 0 {
		w.add("m.type IN %s", q.Types)
	}
	if q.MinImportance != "" {
		w.add("m.importanceRank >= %s", int64(contextd.ImportanceRank(q.MinImportance)))
	}
	if q.MinConfidence > 0 {
		w.add("m.confidence >= %s", q.MinConfidence)
	}
	if len(q.Tags) > 0 {
		w.add("all(t IN %s WHERE t IN m.tags)", q.Tags)
	}
	parsed := contextd.ParseQuery(q.Query)
	tk := ftk(s.sk(sc.Tenant))
	hits, err := s.searchMemories(ctx, sc, w, newLuceneQuery(parsed, tk, memoryFields), candidates, now)
	if err != nil && isParseError(err) {
		hits, err = s.searchMemories(ctx, sc, w, newLuceneQuery(plainQuery(parsed), tk, memoryFields), candidates, now)
		if err != nil && isParseError(err) {
			hits, err = nil, nil
		}
	}
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

// searchMemories runs one memory search with the Lucene query lq over the
// filters w and returns the candidates scored with contextd.MemoryScore.
func (s *Store) searchMemories(ctx context.Context, sc contextd.Scope, w0 *where, lq luceneQuery, candidates int, now time.Time) ([]*contextd.MemoryHit, error) {
	w := &where{conds: w0.conds, n: w0.n, p: params{}}
	for k, v := range w0.p {
		w.p[k] = v
	}
	var query string
	if lq.ranked {
		// Lucene's best matches, re-scored with the tenant's statistics (bm25.go).
		w.p["lq"] = lq.text
		w.p["cut"] = int64(rerankCut(candidates))
		query = `CALL db.index.fulltext.queryNodes('memory_text', $lq) YIELD node AS m, score
			WHERE ` + w.String() + ` WITH m ORDER BY score DESC, m.createdAt DESC, m.id DESC LIMIT $cut` +
			memoryRanker.scoreCypher("m") + `
			WITH m, score ORDER BY score DESC, m.createdAt DESC, m.id DESC LIMIT $cand
			RETURN m` + memProj + ` AS m, score`
	} else {
		if lq.text != "" { // only exclusions
			w.p["lq"] = lq.text
			query = `CALL db.index.fulltext.queryNodes('memory_text', $lq) YIELD node AS m WHERE ` + w.String()
		} else {
			query = `MATCH (m:Memory) WHERE ` + w.String()
		}
		query += ` WITH m ORDER BY m.createdAt DESC, m.id DESC LIMIT $cand RETURN m` + memProj + ` AS m, 0.0 AS score`
	}
	var hits []*contextd.MemoryHit
	err := s.read(ctx, "search memories", func(tx neo4j.ManagedTransaction) error {
		hits = nil
		if lq.ranked {
			bp, err := memoryRanker.bm25Params(ctx, tx, s.sk(sc.Tenant), lq)
			if err != nil {
				return err
			}
			for k, v := range bp {
				w.p[k] = v
			}
		}
		rows, err := collect(ctx, tx, query, w.p)
		if err != nil {
			return err
		}
		for _, r := range rows {
			m, err := decodeMemory(r["m"])
			if err != nil {
				return err
			}
			hits = append(hits, &contextd.MemoryHit{Memory: m, Score: contextd.MemoryScore(f64(r["score"]), lq.ranked, m, now)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return hits, nil
}
