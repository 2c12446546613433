package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"

	"github.com/contextd/contextd"
)

// The vectors of semantic search: rows of the vectors table (migration 0004),
// written in the transaction of their context or memory, and an in-memory
// contextd.VectorIndex per store that searches read and writes keep current.

var _ contextd.VectorStore = (*Store)(nil)

// vectorState is the Store's field for semantic search.
type vectorState struct {
	ix       atomic.Pointer[contextd.VectorIndex]
	maxBytes int64 // Options.VectorIndexMB
	packed   bool  // Options.VectorIndexPacked
}

func (s *Store) vecs() *vectorState { return &s.vectors }

// index is the store's vector index, or nil before UseVectorModel.
func (s *Store) index() *contextd.VectorIndex { return s.vecs().ix.Load() }

// UseVectorModel implements contextd.VectorStore.
func (s *Store) UseVectorModel(model string) {
	src := contextd.VectorSource{Load: s.loadVectors, Count: s.countVectors}
	if s.vecs().packed {
		src.Read = s.readVectors // large shards pack their vectors (Options.VectorIndexPacked)
	}
	ix := contextd.NewVectorIndexFrom(model, src)
	ix.MaxBytes = s.vecs().maxBytes
	s.vecs().ix.Store(ix)
}

// putVector writes the vector of a row in the caller's transaction.
func putVector(ctx context.Context, tx *conn, kind string, pk int64, v []float32, model string) error {
	if v == nil {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO vectors (kind, row_pk, model, vec) VALUES (?, ?, ?, ?)
		ON CONFLICT (kind, row_pk) DO UPDATE SET model = excluded.model, vec = excluded.vec`,
		kind, pk, model, contextd.EncodeVector(v))
	return err
}

// contextsWritten updates the index after contexts committed.
func (s *Store) contextsWritten(tenant, model string, cs []*contextd.Context, vs [][]float32) {
	ix := s.index()
	if ix == nil {
		return
	}
	for i, c := range cs {
		ix.Upsert(tenant, contextd.VectorContext, model, contextd.ContextVectorEntry(c, vs[i]))
	}
}

// memoriesWritten updates the index after memories committed.
func (s *Store) memoriesWritten(tenant, model string, ms []*contextd.Memory, vs [][]float32) {
	ix := s.index()
	if ix == nil {
		return
	}
	for i, m := range ms {
		ix.Upsert(tenant, contextd.VectorMemory, model, contextd.MemoryVectorEntry(m, vs[i]))
	}
}

// contextsCreated adds new contexts with vectors to the index.
func (s *Store) contextsCreated(tenant string, items []contextd.ContextCreate, out []*contextd.Context) {
	for i, it := range items {
		if it.Vector != nil {
			s.contextsWritten(tenant, it.VectorModel, out[i:i+1], [][]float32{it.Vector})
		}
	}
}

// memoriesCreated adds new memories with vectors to the index.
func (s *Store) memoriesCreated(tenant string, items []contextd.MemoryCreate, out []*contextd.Memory) {
	for i, it := range items {
		if it.Vector != nil {
			s.memoriesWritten(tenant, it.VectorModel, out[i:i+1], [][]float32{it.Vector})
		}
	}
}

// vectorsRemoved drops rows from the index after their delete committed; no
// ids drops the tenant's whole shard of kind ("" every kind), to be reloaded.
func (s *Store) vectorsRemoved(tenant, kind string, ids ...string) {
	ix := s.index()
	if len(ids) == 0 {
		ix.Invalidate(tenant, kind)
		return
	}
	ix.Remove(tenant, kind, ids...)
}

// withExtra scans a row's columns and then extra destinations.
type withExtra struct {
	r     scanner
	extra []any
}

func (w withExtra) Scan(dest ...any) error { return w.r.Scan(append(dest, w.extra...)...) }

// loadVectors is the index's loader: a tenant's vectors of model with their rows.
func (s *Store) loadVectors(ctx context.Context, tenant, kind, model string, fn func(contextd.VectorEntry)) error {
	if kind == contextd.VectorContext {
		return s.loadContextVectors(ctx, tenant, model, fn)
	}
	return s.read(ctx, "load vectors", func(tx *conn) error {
		// The columns of contextCols and memoryCols without the texts,
		// which the index does not keep.
		var q string
		switch kind {
		case contextd.VectorContext:
			q = `SELECT c.pk, c.id, '', '', c.type, c.status, c.user_id, c.session_id,
				c.tags, c.metadata, c.created_at, c.updated_at, c.version, v.vec
				FROM contexts c JOIN vectors v ON v.kind = 'context' AND v.row_pk = c.pk
				WHERE c.tenant = ? AND v.model = ?`
		default:
			q = `SELECT m.pk, m.id, m.type, '', m.importance, m.confidence, m.tags, m.timestamp, m.source,
				m.session_id, m.user_id, m.metadata, m.created_at, m.updated_at, m.expires_at, m.version, v.vec
				FROM memories m JOIN vectors v ON v.kind = 'memory' AND v.row_pk = m.pk
				WHERE m.tenant = ? AND v.model = ?`
		}
		rows, err := tx.QueryContext(ctx, q, tenant, model)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var blob []byte
			if kind == contextd.VectorContext {
				c, _, err := scanContext(withExtra{rows, []any{&blob}})
				if err != nil {
					return err
				}
				fn(contextd.ContextVectorEntry(c, contextd.DecodeVector(blob)))
				continue
			}
			m, _, err := scanMemory(rows, &blob)
			if err != nil {
				return err
			}
			fn(contextd.MemoryVectorEntry(m, contextd.DecodeVector(blob)))
		}
		return rows.Err()
	})
}

// vectorKindTable is the table of a vector kind's rows.
func vectorKindTable(kind string) string {
	if kind == contextd.VectorMemory {
		return "memories"
	}
	return "contexts"
}

// countVectors is the index's counter: how many rows of a tenant's kind
// have a vector (of any model: an upper bound of what loadVectors gives).
func (s *Store) countVectors(ctx context.Context, tenant, kind, model string) (int, error) {
	n := 0
	err := s.read(ctx, "count vectors", func(tx *conn) error {
		return tx.QueryRowContext(ctx, `SELECT count(*) FROM `+vectorKindTable(kind)+` WHERE tenant = ?`, tenant).Scan(&n)
	})
	return n, err
}

// NearestVectors implements contextd.VectorStore.
func (s *Store) NearestVectors(ctx context.Context, kind string, vec []float32, f contextd.VectorFilter, k int) ([]contextd.VectorHit, int, error) {
	ix := s.index()
	if ix == nil {
		return nil, 0, contextd.Errorf(contextd.EINVALID, "semantic search is not enabled")
	}
	return ix.Nearest(ctx, kind, vec, f, k)
}

// VectorBacklog implements contextd.VectorStore.
func (s *Store) VectorBacklog(ctx context.Context, kind, model string, limit int) ([]contextd.VectorText, error) {
	var q string
	switch kind {
	case contextd.VectorContext:
		q = `SELECT c.tenant, c.id, c.title, c.content FROM contexts c
			LEFT JOIN vectors v ON v.kind = 'context' AND v.row_pk = c.pk
			WHERE v.model IS NULL OR v.model != ? ORDER BY c.pk LIMIT ?`
	case contextd.VectorMemory:
		q = `SELECT m.tenant, m.id, '', m.content FROM memories m
			LEFT JOIN vectors v ON v.kind = 'memory' AND v.row_pk = m.pk
			WHERE v.model IS NULL OR v.model != ? ORDER BY m.pk LIMIT ?`
	default:
		return nil, contextd.Errorf(contextd.EINVALID, "unknown vector kind %q", kind)
	}
	var out []contextd.VectorText
	err := s.read(ctx, "vector backlog", func(tx *conn) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, q, model, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t contextd.VectorText
			var title string
			if err := rows.Scan(&t.Tenant, &t.ID, &title, &t.Text); err != nil {
				return err
			}
			t.Text = contextd.ContextText(title, t.Text)
			out = append(out, t)
		}
		return rows.Err()
	})
	return out, err
}

// PutVectors implements contextd.VectorStore.
func (s *Store) PutVectors(ctx context.Context, kind, model string, items []contextd.VectorText) error {
	table := "contexts"
	if kind == contextd.VectorMemory {
		table = "memories"
	}
	err := s.write(ctx, "put vectors", func(tx *conn) error {
		for _, it := range items {
			var pk int64
			err := tx.QueryRowContext(ctx, `SELECT pk FROM `+table+` WHERE tenant = ? AND id = ?`, it.Tenant, it.ID).Scan(&pk)
			if err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					continue
				}
				return err
			}
			if err := putVector(ctx, tx, kind, pk, it.Vector, model); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, it := range items {
		if !seen[it.Tenant] {
			seen[it.Tenant] = true
			s.vectorsRemoved(it.Tenant, kind)
		}
	}
	return nil
}
