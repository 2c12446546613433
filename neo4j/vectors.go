package neo4j

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/contextd/contextd"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Semantic search on Neo4j keeps each vector on its node (vec: the int8
// encoding of contextd.EncodeVector, vecModel: the model), written by the
// transaction that writes the node, and searches them with the same
// in-memory contextd.VectorIndex as the SQLite store, loaded per tenant from
// the nodes. Neo4j's native vector index is not used: its HNSW search
// cannot apply contextd's filters (tags, metadata, expiry, user) before
// taking the top k, so a filtered query could miss matches that the exact
// scan finds; and both backends answer identically this way.

var _ contextd.VectorStore = (*Store)(nil)

// vectorState is the Store's field for semantic search.
type vectorState struct {
	ix atomic.Pointer[contextd.VectorIndex]
}

func (s *Store) index() *contextd.VectorIndex { return s.vectors.ix.Load() }

// UseVectorModel implements contextd.VectorStore.
func (s *Store) UseVectorModel(model string) {
	s.vectors.ix.Store(contextd.NewVectorIndex(model, s.loadVectors))
}

// withVector adds a vector to the properties of a node about to be written.
func withVector(p params, v []float32, model string) {
	if v != nil {
		p["vec"], p["vecModel"] = contextd.EncodeVector(v), model
	}
}

// keepVector sets p's vector: v when given, else the one the node has, so
// that `SET n = $props` does not drop it.
func keepVector(ctx context.Context, tx neo4j.ManagedTransaction, label string, p params, v []float32, model string) error {
	if v != nil {
		withVector(p, v, model)
		return nil
	}
	row, err := single(ctx, tx, `MATCH (n:`+label+` {uk: $uk}) RETURN n.vec AS vec, n.vecModel AS model`, params{"uk": p["uk"]})
	if err != nil || row == nil {
		return err
	}
	if b, ok := row["vec"].([]byte); ok {
		p["vec"], p["vecModel"] = b, str(row["model"])
	}
	return nil
}

// markVectorEpoch records, in the creating transaction, the first time a
// row of kind is created with a vector (vectors: whether any of the batch
// has one): rows created from then on were written with an embedder, and
// Check expects their vectors. One (:ContextdVectorEpoch {ns, kind, since})
// node per kind; two first batches racing may make two, and Check takes the
// earliest.
func (s *Store) markVectorEpoch(ctx context.Context, tx neo4j.ManagedTransaction, kind string, vectors bool, now time.Time) error {
	if !vectors {
		return nil
	}
	return exec(ctx, tx, `MERGE (e:ContextdVectorEpoch {ns: $ns, kind: $kind}) ON CREATE SET e.since = $at`,
		params{"ns": s.ns, "kind": kind, "at": nanos(now)})
}

func (s *Store) contextsCreated(tenant string, items []contextd.ContextCreate, out []*contextd.Context) {
	ix := s.index()
	for i, it := range items {
		if it.Vector != nil {
			ix.Upsert(tenant, contextd.VectorContext, it.VectorModel, contextd.ContextVectorEntry(out[i], it.Vector))
		}
	}
}

func (s *Store) memoriesCreated(tenant string, items []contextd.MemoryCreate, out []*contextd.Memory) {
	ix := s.index()
	for i, it := range items {
		if it.Vector != nil {
			ix.Upsert(tenant, contextd.VectorMemory, it.VectorModel, contextd.MemoryVectorEntry(out[i], it.Vector))
		}
	}
}

// vectorsRemoved drops rows from the index after their delete committed; no
// ids drops the tenant's shard of kind, to be reloaded.
func (s *Store) vectorsRemoved(tenant, kind string, ids ...string) {
	if len(ids) == 0 {
		s.index().Invalidate(tenant, kind)
		return
	}
	s.index().Remove(tenant, kind, ids...)
}

func (s *Store) loadVectors(ctx context.Context, tenant, kind, model string, fn func(contextd.VectorEntry)) error {
	return s.read(ctx, "load vectors", func(tx neo4j.ManagedTransaction) error {
		q := `MATCH (n:Context) WHERE n.sk = $sk AND n.vecModel = $model RETURN n` + ctxProj + ` AS n, n.vec AS vec`
		if kind == contextd.VectorMemory {
			q = `MATCH (n:Memory) WHERE n.sk = $sk AND n.vecModel = $model RETURN n` + memProj + ` AS n, n.vec AS vec`
		}
		res, err := tx.Run(ctx, q, params{"sk": s.sk(tenant), "model": model})
		if err != nil {
			return err
		}
		for res.Next(ctx) {
			rec := res.Record()
			n, _ := rec.Get("n")
			vb, _ := rec.Get("vec")
			b, _ := vb.([]byte)
			if kind == contextd.VectorMemory {
				m, err := decodeMemory(n)
				if err != nil {
					return err
				}
				fn(contextd.MemoryVectorEntry(m, contextd.DecodeVector(b)))
				continue
			}
			c, err := decodeContext(n)
			if err != nil {
				return err
			}
			fn(contextd.ContextVectorEntry(c, contextd.DecodeVector(b)))
		}
		return res.Err()
	})
}

// NearestVectors implements contextd.VectorStore.
func (s *Store) NearestVectors(ctx context.Context, kind string, vec []float32, f contextd.VectorFilter, k int) ([]contextd.VectorHit, int, error) {
	ix := s.index()
	if ix == nil {
		return nil, 0, contextd.Errorf(contextd.EINVALID, "semantic search is not enabled")
	}
	return ix.Nearest(ctx, kind, vec, f, k)
}

func vectorLabel(kind string) (string, error) {
	switch kind {
	case contextd.VectorContext:
		return "Context", nil
	case contextd.VectorMemory:
		return "Memory", nil
	}
	return "", contextd.Errorf(contextd.EINVALID, "unknown vector kind %q", kind)
}

// VectorBacklog implements contextd.VectorStore.
func (s *Store) VectorBacklog(ctx context.Context, kind, model string, limit int) ([]contextd.VectorText, error) {
	label, err := vectorLabel(kind)
	if err != nil {
		return nil, err
	}
	title := "n.title"
	if kind == contextd.VectorMemory {
		title = "''"
	}
	var out []contextd.VectorText
	err = s.read(ctx, "vector backlog", func(tx neo4j.ManagedTransaction) error {
		rows, err := collect(ctx, tx, `MATCH (n:`+label+`) WHERE ($ns = '' OR n.sk STARTS WITH $prefix) AND (n.vecModel IS NULL OR n.vecModel <> $model)
			RETURN n.tenant AS tenant, n.id AS id, `+title+` AS title, n.content AS content ORDER BY n.uk LIMIT $lim`,
			params{"ns": s.ns, "prefix": s.ns + "/", "model": model, "lim": int64(limit)})
		if err != nil {
			return err
		}
		out = out[:0]
		for _, r := range rows {
			out = append(out, contextd.VectorText{Tenant: str(r["tenant"]), ID: str(r["id"]),
				Text: contextd.ContextText(str(r["title"]), str(r["content"]))})
		}
		return nil
	})
	return out, err
}

// PutVectors implements contextd.VectorStore.
func (s *Store) PutVectors(ctx context.Context, kind, model string, items []contextd.VectorText) error {
	label, err := vectorLabel(kind)
	if err != nil {
		return err
	}
	rows := make([]any, len(items))
	for i, it := range items {
		rows[i] = params{"uk": uk(s.sk(it.Tenant), it.ID), "vec": contextd.EncodeVector(it.Vector)}
	}
	err = s.write(ctx, "put vectors", func(tx neo4j.ManagedTransaction) error {
		return exec(ctx, tx, `UNWIND $rows AS r MATCH (n:`+label+` {uk: r.uk}) SET n.vec = r.vec, n.vecModel = $model`,
			params{"rows": rows, "model": model})
	})
	if err != nil {
		return err
	}
	for _, it := range items {
		s.vectorsRemoved(it.Tenant, kind)
	}
	return nil
}
