package neo4j

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/contextd/contextd"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// relReturn returns an edge r from a to b as the columns decodeRel reads.
const relReturn = ` RETURN r.id AS id, r.type AS type, a.id AS src, b.id AS dst, r.props AS props, r.createdAt AS at`

func decodeRel(m map[string]any) (*contextd.Relationship, error) {
	r := &contextd.Relationship{ID: str(m["id"]), Type: str(m["type"]), SourceID: str(m["src"]), TargetID: str(m["dst"]),
		CreatedAt: fromNanos(i64(m["at"]))}
	var err error
	if r.Properties, err = decodeObject(str(m["props"])); err != nil {
		return nil, fmt.Errorf("relationship %q: properties: %w", r.ID, err)
	}
	return r, nil
}

// edgeVisible adds the scope's walls on edge r from a to b: its tenant and,
// for a user-bound scope, both ends belonging to that user.
func (s *Store) edgeVisible(w *where, sc contextd.Scope) {
	w.add("r.sk = %s", s.sk(sc.Tenant))
	if sc.UserID != "" {
		w.add("a.userId = %s AND b.userId = %s", sc.UserID, sc.UserID)
	}
}

// edgesOf returns the visible edges touching any of ids in direction dir
// (out, in or both) whose type is one of types (all when empty), oldest
// first. Each end is found through the unique index.
func (s *Store) edgesOf(ctx context.Context, tx neo4j.ManagedTransaction, sc contextd.Scope, ids []string, dir string, types []string) ([]*contextd.Relationship, error) {
	if len(ids) == 0 {
		return []*contextd.Relationship{}, nil
	}
	sk := s.sk(sc.Tenant)
	uks := make([]string, len(ids))
	for i, id := range ids {
		uks[i] = uk(sk, id)
	}
	w := newWhere(params{"uks": uks})
	s.edgeVisible(w, sc)
	if len(types) > 0 {
		w.add("r.type IN %s", types)
	}
	part := func(end string) string {
		return `MATCH (a:Context)-[r:LINK]->(b:Context) WHERE ` + end + `.uk IN $uks AND ` + w.String() + relReturn
	}
	var query string
	switch dir {
	case contextd.DirectionOut:
		query = part("a")
	case contextd.DirectionIn:
		query = part("b")
	default:
		query = part("a") + " UNION " + part("b") // UNION drops the edges found from both ends
	}
	rows, err := collect(ctx, tx, query, w.p)
	if err != nil {
		return nil, err
	}
	out := make([]*contextd.Relationship, 0, len(rows))
	for _, row := range rows {
		r, err := decodeRel(row)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// fillRelationships sets the Relationships of every context in cs (both
// directions, oldest first) with one query.
func (s *Store) fillRelationships(ctx context.Context, tx neo4j.ManagedTransaction, sc contextd.Scope, cs []*contextd.Context) error {
	if len(cs) == 0 {
		return nil
	}
	byID := make(map[string]*contextd.Context, len(cs))
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		c.Relationships = []*contextd.Relationship{}
		if _, dup := byID[c.ID]; !dup {
			byID[c.ID] = c
			ids = append(ids, c.ID)
		}
	}
	rels, err := s.edgesOf(ctx, tx, sc, ids, contextd.DirectionBoth, nil)
	if err != nil {
		return err
	}
	for _, r := range rels {
		if c := byID[r.SourceID]; c != nil {
			c.Relationships = append(c.Relationships, r)
		}
		if c := byID[r.TargetID]; c != nil && r.TargetID != r.SourceID {
			c.Relationships = append(c.Relationships, r)
		}
	}
	return nil
}

// insertRelationship checks and stores one edge inside a write transaction.
// loc prefixes the field locations of its errors ("" for a single create).
func (s *Store) insertRelationship(ctx context.Context, tx neo4j.ManagedTransaction, sc contextd.Scope, r contextd.RelationshipCreate, now time.Time, loc string) (*contextd.Relationship, error) {
	at := func(field string) string {
		if loc == "" {
			return field
		}
		return loc + "." + field
	}
	msg := func(format string, args ...any) string {
		m := fmt.Sprintf(format, args...)
		if loc != "" {
			m = loc + ": " + m
		}
		return m
	}
	fieldErr := func(code, field, m string) error {
		return &contextd.Error{Code: code, Message: m, Fields: []contextd.FieldError{{Location: at(field), Message: m}}}
	}
	if !contextd.ValidRelationshipType(r.Type) {
		return nil, fieldErr(contextd.EINVALID, "type", msg("%q is not a relationship type", r.Type))
	}
	if r.ID != "" && !contextd.ValidID(r.ID) {
		return nil, fieldErr(contextd.EINVALID, "id", msg("must be a valid id"))
	}
	if r.Properties == nil {
		r.Properties = map[string]any{}
	}
	props, err := jsonText(r.Properties)
	if err != nil {
		return nil, err
	}
	if ok, err := s.contextVisible(ctx, tx, sc, r.SourceID); err != nil {
		return nil, err
	} else if !ok {
		return nil, fieldErr(contextd.ENOTFOUND, "sourceId", msg("source context %q not found", r.SourceID))
	}
	if ok, err := s.contextVisible(ctx, tx, sc, r.TargetID); err != nil {
		return nil, err
	} else if !ok {
		return nil, fieldErr(contextd.ENOTFOUND, "targetId", msg("target context %q not found", r.TargetID))
	}
	sk := s.sk(sc.Tenant)
	out := &contextd.Relationship{ID: r.ID, Type: r.Type, SourceID: r.SourceID, TargetID: r.TargetID,
		Properties: r.Properties, CreatedAt: now}
	if out.ID == "" {
		out.ID = contextd.NewID(now)
	}
	p := params{
		"a": uk(sk, r.SourceID), "b": uk(sk, r.TargetID), "uk": uk(sk, out.ID), "sk": sk,
		"dk": sk + "/" + r.SourceID + "/" + r.TargetID + "/" + r.Type,
		"id": out.ID, "type": out.Type, "props": props, "at": nanos(now),
	}
	if r.Type == contextd.RelContains {
		// Serialize the tenant's CONTAINS writes on its Tenant node, so that two
		// edges closing a cycle together cannot both pass the check below.
		if err := exec(ctx, tx, `MERGE (t:Tenant {sk: $sk}) ON CREATE SET t.name = $tenant, t.ns = $ns, t.createdAt = $at
			SET t.containsWrites = coalesce(t.containsWrites, 0) + 1`,
			params{"sk": sk, "tenant": sc.Tenant, "ns": s.ns, "at": nanos(now)}); err != nil {
			return nil, err
		}
	}
	row, err := single(ctx, tx, `OPTIONAL MATCH ()-[d:LINK {dk: $dk}]->() WITH count(d) AS dups
		OPTIONAL MATCH ()-[i:LINK {uk: $uk}]->() RETURN dups, count(i) AS ids`, p)
	if err != nil {
		return nil, err
	}
	if i64(row["dups"]) > 0 {
		return nil, fieldErr(contextd.ECONFLICT, "type", msg("a %s relationship from %q to %q already exists", r.Type, r.SourceID, r.TargetID))
	}
	if i64(row["ids"]) > 0 {
		return nil, fieldErr(contextd.ECONFLICT, "id", msg("relationship id %q is already taken", out.ID))
	}
	if r.Type == contextd.RelContains {
		// The new edge closes a cycle when the source is reachable from the
		// target through CONTAINS edges (a self-loop included). shortestPath
		// is a breadth-first search that checks the edge predicate as it goes.
		cycle := r.SourceID == r.TargetID
		if !cycle {
			row, err := single(ctx, tx, `MATCH (a:Context {uk: $a}), (b:Context {uk: $b})
				OPTIONAL MATCH p = shortestPath((b)-[x:LINK*1..]->(a))
				WHERE all(e IN x WHERE e.type = 'CONTAINS' AND e.sk = $sk)
				RETURN p IS NOT NULL AS cycle`, p)
			if err != nil {
				return nil, err
			}
			cycle = row != nil && row["cycle"] == true
		}
		if cycle {
			return nil, fieldErr(contextd.ECONFLICT, "targetId", msg("a CONTAINS relationship from %q to %q would close a cycle", r.SourceID, r.TargetID))
		}
	}
	if err := exec(ctx, tx, `MATCH (a:Context {uk: $a}), (b:Context {uk: $b})
		CREATE (a)-[:LINK {uk: $uk, dk: $dk, sk: $sk, id: $id, type: $type, props: $props, createdAt: $at}]->(b)`, p); err != nil {
		return nil, err
	}
	return out, nil
}

// CreateRelationship implements contextd.ContextStore.
func (s *Store) CreateRelationship(ctx context.Context, sc contextd.Scope, r contextd.RelationshipCreate) (*contextd.Relationship, error) {
	now := s.clock()
	var out *contextd.Relationship
	err := s.write(ctx, "create relationship", func(tx neo4j.ManagedTransaction) error {
		var err error
		if out, err = s.insertRelationship(ctx, tx, sc, r, now, ""); err != nil {
			return err
		}
		return s.logPut(ctx, tx, sc, contextd.OpCreate, &contextd.Record{Kind: contextd.KindRelationship, Tenant: sc.Tenant, Relationship: out}, now)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FindRelationships implements contextd.ContextStore.
func (s *Store) FindRelationships(ctx context.Context, sc contextd.Scope, f contextd.RelationshipFilter) ([]*contextd.Relationship, error) {
	var out []*contextd.Relationship
	err := s.read(ctx, "find relationships", func(tx neo4j.ManagedTransaction) error {
		if ok, err := s.contextVisible(ctx, tx, sc, f.ContextID); err != nil {
			return err
		} else if !ok {
			return notFound("context", f.ContextID)
		}
		var types []string
		if f.Type != "" {
			types = []string{f.Type}
		}
		var err error
		out, err = s.edgesOf(ctx, tx, sc, []string{f.ContextID}, f.Direction, types)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteRelationship implements contextd.ContextStore.
func (s *Store) DeleteRelationship(ctx context.Context, sc contextd.Scope, id string) error {
	now := s.clock()
	return s.write(ctx, "delete relationship", func(tx neo4j.ManagedTransaction) error {
		return s.deleteRelationshipTx(ctx, tx, sc, id, now)
	})
}

// Graph implements contextd.ContextStore: contextd.WalkGraph, with one query
// for the edges and one for the nodes of each level.
func (s *Store) Graph(ctx context.Context, sc contextd.Scope, q contextd.GraphQuery) (*contextd.Graph, error) {
	for _, t := range q.Types { // types are Cypher identifiers here: check them again
		if !contextd.ValidRelationshipType(t) {
			return nil, contextd.Invalid("query.types", "%q is not a relationship type", t)
		}
	}
	var g *contextd.Graph
	err := s.read(ctx, "graph", func(tx neo4j.ManagedTransaction) error {
		root, err := s.getContext(ctx, tx, sc, q.RootID, false)
		if err != nil {
			return err
		}
		g, err = contextd.WalkGraph(root, q, contextd.GraphLevel{
			Edges: func(frontier []string, dir string, types []string) ([]*contextd.Relationship, error) {
				return s.edgesOf(ctx, tx, sc, frontier, dir, types)
			},
			Contexts: func(ids []string) (map[string]*contextd.Context, error) { return s.contextsByID(ctx, tx, sc, ids) },
		})
		if err != nil {
			return err
		}
		return s.fillRelationships(ctx, tx, sc, g.Nodes)
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// contextsByID loads the visible contexts among ids, without relationships.
func (s *Store) contextsByID(ctx context.Context, tx neo4j.ManagedTransaction, sc contextd.Scope, ids []string) (map[string]*contextd.Context, error) {
	sk := s.sk(sc.Tenant)
	uks := make([]string, len(ids))
	for i, id := range ids {
		uks[i] = uk(sk, id)
	}
	w := newWhere(params{"uks": uks})
	s.visible(w, sc, "c")
	rows, err := collect(ctx, tx, `MATCH (c:Context) WHERE c.uk IN $uks AND `+w.String()+` RETURN c`+ctxProj+` AS c`, w.p)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*contextd.Context, len(rows))
	for _, r := range rows {
		c, err := decodeContext(r["c"])
		if err != nil {
			return nil, err
		}
		out[c.ID] = c
	}
	return out, nil
}
