package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/contextd/contextd"
)

const relCols = `r.id, r.type, r.source_id, r.target_id, r.properties, r.created_at`

func scanRelationship(row scanner) (*contextd.Relationship, error) {
	var (
		r       contextd.Relationship
		props   string
		created int64
	)
	if err := row.Scan(&r.ID, &r.Type, &r.SourceID, &r.TargetID, &props, &created); err != nil {
		return nil, err
	}
	var err error
	if r.Properties, err = decodeObject(props); err != nil {
		return nil, fmt.Errorf("relationship %q: properties: %w", r.ID, err)
	}
	r.CreatedAt = fromNanos(created)
	return &r, nil
}

// edgeVisible adds the scope's walls on relationship alias r: its tenant and,
// for a user-bound scope, both ends belonging to that user.
func (b *sqlBuilder) edgeVisible(s contextd.Scope, r string) {
	b.add(r+".tenant = ?", s.Tenant)
	if s.UserID != "" {
		b.add(`EXISTS (SELECT 1 FROM contexts x WHERE x.tenant = `+r+`.tenant AND x.id = `+r+`.source_id AND x.user_id = ?)
			AND EXISTS (SELECT 1 FROM contexts x WHERE x.tenant = `+r+`.tenant AND x.id = `+r+`.target_id AND x.user_id = ?)`,
			s.UserID, s.UserID)
	}
}

func queryRelationships(ctx context.Context, q *conn, query string, args ...any) ([]*contextd.Relationship, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*contextd.Relationship{}
	for rows.Next() {
		r, err := scanRelationship(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// edgesOf returns the visible edges touching any of ids in direction dir
// (out, in or both) whose type is one of types (all when empty), oldest first.
// It is one query whatever the number of ids.
func edgesOf(ctx context.Context, q *conn, s contextd.Scope, ids []string, dir string, types []string) ([]*contextd.Relationship, error) {
	part := func(col string) (string, []any) {
		var b sqlBuilder
		b.edgeVisible(s, "r")
		if len(ids) == 1 { // the common case (one context) without json_each's cost
			b.add("r."+col+" = ?", ids[0])
		} else {
			b.add("r."+col+" IN (SELECT value FROM json_each(?))", idList(ids))
		}
		if len(types) == 1 {
			b.add("r.type = ?", types[0])
		} else if len(types) > 1 {
			b.add("r.type IN (SELECT value FROM json_each(?))", idList(types))
		}
		return `SELECT ` + relCols + ` FROM relationships r WHERE ` + b.where(), b.args
	}
	var (
		query string
		args  []any
	)
	switch dir {
	case contextd.DirectionOut:
		query, args = part("source_id")
	case contextd.DirectionIn:
		query, args = part("target_id")
	default:
		q1, a1 := part("source_id")
		q2, a2 := part("target_id")
		// UNION drops the edges found from both ends.
		query, args = q1+" UNION "+q2, append(a1, a2...)
	}
	return queryRelationships(ctx, q, query+" ORDER BY 6, 1", args...)
}

// fillRelationships sets the Relationships of every context in cs (both
// directions, oldest first) with one query.
func fillRelationships(ctx context.Context, q *conn, s contextd.Scope, cs []*contextd.Context) error {
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
	rels, err := edgesOf(ctx, q, s, ids, contextd.DirectionBoth, nil)
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
func (s *Store) insertRelationship(ctx context.Context, tx *conn, sc contextd.Scope, r contextd.RelationshipCreate, now time.Time, loc string) (*contextd.Relationship, error) {
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
	if ok, err := contextVisible(ctx, tx, sc, r.SourceID); err != nil {
		return nil, err
	} else if !ok {
		return nil, fieldErr(contextd.ENOTFOUND, "sourceId", msg("source context %q not found", r.SourceID))
	}
	if ok, err := contextVisible(ctx, tx, sc, r.TargetID); err != nil {
		return nil, err
	} else if !ok {
		return nil, fieldErr(contextd.ENOTFOUND, "targetId", msg("target context %q not found", r.TargetID))
	}
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM relationships WHERE tenant = ? AND source_id = ? AND target_id = ? AND type = ?`,
		sc.Tenant, r.SourceID, r.TargetID, r.Type).Scan(&one)
	if err == nil {
		return nil, fieldErr(contextd.ECONFLICT, "type", msg("a %s relationship from %q to %q already exists", r.Type, r.SourceID, r.TargetID))
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	if r.Type == contextd.RelContains {
		// The new edge closes a cycle when the source is reachable from the
		// target through CONTAINS edges (a self-loop included). UNION (not
		// UNION ALL) visits each context once, so existing data cannot loop.
		err := tx.QueryRowContext(ctx, `WITH RECURSIVE reach(id) AS (
				SELECT ?2
				UNION
				SELECT r.target_id FROM relationships r JOIN reach ON r.source_id = reach.id
				WHERE r.tenant = ?1 AND r.type = 'CONTAINS'
			)
			SELECT 1 FROM reach WHERE id = ?3 LIMIT 1`, sc.Tenant, r.TargetID, r.SourceID).Scan(&one)
		if err == nil {
			return nil, fieldErr(contextd.ECONFLICT, "targetId", msg("a CONTAINS relationship from %q to %q would close a cycle", r.SourceID, r.TargetID))
		} else if !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
	}
	out := &contextd.Relationship{ID: r.ID, Type: r.Type, SourceID: r.SourceID, TargetID: r.TargetID,
		Properties: r.Properties, CreatedAt: now}
	if out.ID == "" {
		out.ID = contextd.NewID(now)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO relationships (tenant, id, type, source_id, target_id, properties, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, sc.Tenant, out.ID, out.Type, out.SourceID, out.TargetID, props, nanos(now)); err != nil {
		if isUnique(err) {
			return nil, fieldErr(contextd.ECONFLICT, "id", msg("relationship id %q is already taken", out.ID))
		}
		return nil, err
	}
	return out, nil
}

// CreateRelationship implements contextd.ContextStore.
func (s *Store) CreateRelationship(ctx context.Context, sc contextd.Scope, r contextd.RelationshipCreate) (*contextd.Relationship, error) {
	now := s.clock()
	var out *contextd.Relationship
	err := s.write(ctx, "create relationship", func(tx *conn) error {
		var err error
		if out, err = s.insertRelationship(ctx, tx, sc, r, now, ""); err != nil {
			return err
		}
		return logPut(ctx, tx, sc, contextd.OpCreate, relationshipRecord(sc, out), now)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FindRelationships implements contextd.ContextStore.
func (s *Store) FindRelationships(ctx context.Context, sc contextd.Scope, f contextd.RelationshipFilter) ([]*contextd.Relationship, error) {
	var out []*contextd.Relationship
	err := s.read(ctx, "find relationships", func(tx *conn) error {
		if ok, err := contextVisible(ctx, tx, sc, f.ContextID); err != nil {
			return err
		} else if !ok {
			return notFound("context", f.ContextID)
		}
		var types []string
		if f.Type != "" {
			types = []string{f.Type}
		}
		var err error
		out, err = edgesOf(ctx, tx, sc, []string{f.ContextID}, f.Direction, types)
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
	return s.write(ctx, "delete relationship", func(tx *conn) error {
		return deleteRelationshipTx(ctx, tx, sc, id, now)
	})
}

// deleteRelationshipTx deletes one visible edge and logs it.
func deleteRelationshipTx(ctx context.Context, tx *conn, sc contextd.Scope, id string, now time.Time) error {
	var b sqlBuilder
	b.edgeVisible(sc, "r")
	b.add("r.id = ?", id)
	res, err := tx.ExecContext(ctx, `DELETE FROM relationships AS r WHERE `+b.where(), b.args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return notFound("relationship", id)
	}
	return logDelete(ctx, tx, sc, contextd.KindRelationship, id, "", 0, now)
}

// Graph implements contextd.ContextStore: contextd.WalkGraph, with one query
// for the edges and one for the nodes of each level.
func (s *Store) Graph(ctx context.Context, sc contextd.Scope, q contextd.GraphQuery) (*contextd.Graph, error) {
	var g *contextd.Graph
	err := s.read(ctx, "graph", func(tx *conn) error {
		root, _, err := getContext(ctx, tx, sc, q.RootID)
		if err != nil {
			return err
		}
		g, err = contextd.WalkGraph(root, q, contextd.GraphLevel{
			Edges: func(frontier []string, dir string, types []string) ([]*contextd.Relationship, error) {
				return edgesOf(ctx, tx, sc, frontier, dir, types)
			},
			Contexts: func(ids []string) (map[string]*contextd.Context, error) { return contextsByID(ctx, tx, sc, ids) },
		})
		if err != nil {
			return err
		}
		return fillRelationships(ctx, tx, sc, g.Nodes)
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// contextsByID loads the visible contexts among ids, without relationships.
func contextsByID(ctx context.Context, q *conn, sc contextd.Scope, ids []string) (map[string]*contextd.Context, error) {
	var b sqlBuilder
	b.visible(sc, "c")
	b.add("c.id IN (SELECT value FROM json_each(?))", idList(ids))
	rows, err := q.QueryContext(ctx, `SELECT `+contextCols+` FROM contexts c WHERE `+b.where(), b.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]*contextd.Context, len(ids))
	for rows.Next() {
		c, _, err := scanContext(rows)
		if err != nil {
			return nil, err
		}
		out[c.ID] = c
	}
	return out, rows.Err()
}
