package neo4j

import (
	"context"
	"fmt"
	"strconv"

	"github.com/contextd/contextd"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// ctxProj projects the stored fields of a context (not its index copies).
const ctxProj = ` {.id, .title, .content, .type, .status, .userId, .sessionId, .tags, .metadata, .createdAt, .updatedAt, .version}`

// decodeContext reads a ctxProj map.
func decodeContext(v any) (*contextd.Context, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("context: unexpected %T", v)
	}
	c := &contextd.Context{
		ID: str(m["id"]), Title: str(m["title"]), Content: str(m["content"]), Type: str(m["type"]),
		Status: str(m["status"]), UserID: str(m["userId"]), SessionID: str(m["sessionId"]), Tags: strs(m["tags"]),
		CreatedAt: fromNanos(i64(m["createdAt"])), UpdatedAt: fromNanos(i64(m["updatedAt"])), Version: i64(m["version"]),
		Relationships: []*contextd.Relationship{},
	}
	var err error
	if c.Metadata, err = decodeObject(str(m["metadata"])); err != nil {
		return nil, fmt.Errorf("context %q: metadata: %w", c.ID, err)
	}
	return c, nil
}

// visible adds the scope's walls on node alias a.
func (s *Store) visible(w *where, sc contextd.Scope, a string) {
	w.add(a+".sk = %s", s.sk(sc.Tenant))
	if sc.UserID != "" {
		w.add(a+".userId = %s", sc.UserID)
	}
}

// getContext loads one visible context without its relationships. With
// lock, the node is write-locked first (until the transaction ends), so the
// values read are the latest and stay so: read-check-write is safe.
func (s *Store) getContext(ctx context.Context, tx neo4j.ManagedTransaction, sc contextd.Scope, id string, lock bool) (*contextd.Context, error) {
	w := newWhere(nil)
	s.visible(w, sc, "c")
	w.p["uk"] = uk(s.sk(sc.Tenant), id)
	set := ""
	if lock {
		set = " SET c.lock_ = true"
	}
	row, err := single(ctx, tx, `MATCH (c:Context {uk: $uk}) WHERE `+w.String()+set+` RETURN c`+ctxProj+` AS c`, w.p)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, notFound("context", id)
	}
	return decodeContext(row["c"])
}

// contextVisible reports whether the context id exists in the scope.
func (s *Store) contextVisible(ctx context.Context, tx neo4j.ManagedTransaction, sc contextd.Scope, id string) (bool, error) {
	w := newWhere(nil)
	s.visible(w, sc, "c")
	w.p["uk"] = uk(s.sk(sc.Tenant), id)
	row, err := single(ctx, tx, `MATCH (c:Context {uk: $uk}) WHERE `+w.String()+` RETURN true AS ok`, w.p)
	return row != nil, err
}

// contextProps are the stored properties of c in tenant sc.
func (s *Store) contextProps(sc contextd.Scope, c *contextd.Context) (params, error) {
	meta, err := jsonText(c.Metadata)
	if err != nil {
		return nil, err
	}
	sk := s.sk(sc.Tenant)
	ftTitle, nt := normText(c.Title)
	ftContent, nc := normText(c.Content)
	return params{
		"uk": uk(sk, c.ID), "sk": sk, "tenant": sc.Tenant, "id": c.ID, "title": c.Title, "content": c.Content,
		"type": c.Type, "status": c.Status, "userId": c.UserID, "sessionId": c.SessionID, "tags": c.Tags,
		"metadata": meta, "meta": metaPairs(c.Metadata), "createdAt": nanos(c.CreatedAt), "updatedAt": nanos(c.UpdatedAt),
		"version": c.Version, "ftk": ftk(sk), "ftTitle": ftTitle, "ftContent": ftContent, "ftLen": int64(nt + nc),
	}, nil
}

// CreateContexts implements contextd.ContextStore.
func (s *Store) CreateContexts(ctx context.Context, sc contextd.Scope, items []contextd.ContextCreate) ([]*contextd.Context, error) {
	if len(items) == 0 {
		return []*contextd.Context{}, nil
	}
	now := s.clock()
	out := make([]*contextd.Context, len(items))
	rows := make([]any, len(items))
	seen := map[string]bool{}
	type sess struct{ id, uid, loc string }
	var sessions []sess
	seenSess := map[string]bool{}
	for i := range items {
		loc := "items[" + strconv.Itoa(i) + "]"
		c, err := contextd.NewContext(sc, &items[i], now, loc)
		if err != nil {
			return nil, err
		}
		if seen[c.ID] {
			return nil, conflict(loc+".id", "%s: context id %q appears twice in the batch", loc, c.ID)
		}
		seen[c.ID] = true
		if c.SessionID != "" && !seenSess[c.SessionID] {
			seenSess[c.SessionID] = true
			sessions = append(sessions, sess{c.SessionID, c.UserID, loc + ".sessionId"})
		}
		p, err := s.contextProps(sc, c)
		if err != nil {
			return nil, err
		}
		withVector(p, items[i].Vector, items[i].VectorModel)
		out[i], rows[i] = c, p
	}
	sk := s.sk(sc.Tenant)
	err := s.write(ctx, "create contexts", func(tx neo4j.ManagedTransaction) error {
		for i := range out {
			out[i].Relationships = []*contextd.Relationship{}
		}
		uks := make([]string, len(out))
		for i, c := range out {
			uks[i] = uk(sk, c.ID)
		}
		taken, err := collect(ctx, tx, `UNWIND $uks AS k MATCH (c:Context {uk: k}) RETURN c.id AS id`, params{"uks": uks})
		if err != nil {
			return err
		}
		if len(taken) > 0 {
			id := str(taken[0]["id"])
			for i, c := range out {
				if c.ID == id {
					loc := "items[" + strconv.Itoa(i) + "]"
					return conflict(loc+".id", "%s: context id %q is already taken", loc, id)
				}
			}
		}
		for _, ss := range sessions {
			if err := s.ensureSession(ctx, tx, sc, ss.id, ss.uid, now, false, ss.loc); err != nil {
				return err
			}
		}
		if err := exec(ctx, tx, `UNWIND $rows AS row CREATE (c:Context) SET c = row`, params{"rows": rows}); err != nil {
			return err
		}
		if err := s.markVectorEpoch(ctx, tx, contextd.VectorContext, items[0].Vector != nil, now); err != nil {
			return err
		}
		logs := make([]any, len(out))
		for i, c := range out {
			if logs[i], err = s.putRow(sc, contextd.OpCreate, &contextd.Record{Kind: contextd.KindContext, Tenant: sc.Tenant, Context: c}, now); err != nil {
				return err
			}
		}
		if err := s.logChanges(ctx, tx, logs); err != nil {
			return err
		}
		// Relationships after every item exists: targets may be later items.
		for i := range items {
			for j, r := range items[i].Relationships {
				loc := "items[" + strconv.Itoa(i) + "].relationships[" + strconv.Itoa(j) + "]"
				r.SourceID = out[i].ID
				rel, err := s.insertRelationship(ctx, tx, sc, r, now, loc)
				if err != nil {
					return err
				}
				if err := s.logPut(ctx, tx, sc, contextd.OpCreate, &contextd.Record{Kind: contextd.KindRelationship, Tenant: sc.Tenant, Relationship: rel}, now); err != nil {
					return err
				}
			}
		}
		return s.fillRelationships(ctx, tx, sc, out)
	})
	if err != nil {
		return nil, err
	}
	s.contextsCreated(sc.Tenant, items, out)
	return out, nil
}

// GetContext implements contextd.ContextStore.
func (s *Store) GetContext(ctx context.Context, sc contextd.Scope, id string) (*contextd.Context, error) {
	var c *contextd.Context
	err := s.read(ctx, "get context", func(tx neo4j.ManagedTransaction) error {
		var err error
		if c, err = s.getContext(ctx, tx, sc, id, false); err != nil {
			return err
		}
		return s.fillRelationships(ctx, tx, sc, []*contextd.Context{c})
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// FindContexts implements contextd.ContextStore.
func (s *Store) FindContexts(ctx context.Context, sc contextd.Scope, f contextd.ContextFilter) ([]*contextd.Context, string, error) {
	w := newWhere(nil)
	s.visible(w, sc, "c")
	if f.UserID != "" {
		w.add("c.userId = %s", f.UserID)
	}
	if f.Type != "" {
		w.add("c.type = %s", f.Type)
	}
	if f.Status != "" {
		w.add("c.status = %s", f.Status)
	}
	if f.SessionID != "" {
		w.add("c.sessionId = %s", f.SessionID)
	}
	if !f.CreatedAfter.IsZero() {
		w.add("c.createdAt > %s", nanos(f.CreatedAfter))
	}
	if !f.CreatedBefore.IsZero() {
		w.add("c.createdAt < %s", nanos(f.CreatedBefore))
	}
	if len(f.Tags) > 0 {
		w.add("all(t IN %s WHERE t IN c.tags)", f.Tags)
	}
	order, err := w.keyset("c", f.Cursor, f.Ascending)
	if err != nil {
		return nil, "", err
	}
	limit := listLimit(f.Limit)
	w.p["lim"] = int64(limit + 1)
	var (
		out  []*contextd.Context
		next string
	)
	err = s.read(ctx, "find contexts", func(tx neo4j.ManagedTransaction) error {
		out, next = nil, ""
		// Order and cut the nodes, then project: sorting the projected maps
		// (content included) of every match took seconds at 100k contexts.
		rows, err := collect(ctx, tx, `MATCH (c:Context) WHERE `+w.String()+` WITH c ORDER BY `+order+` LIMIT $lim RETURN c`+ctxProj+` AS c`, w.p)
		if err != nil {
			return err
		}
		for _, r := range rows {
			c, err := decodeContext(r["c"])
			if err != nil {
				return err
			}
			if len(out) == limit {
				last := out[len(out)-1]
				next = encodeCursor(nanos(last.CreatedAt), last.ID)
				break
			}
			out = append(out, c)
		}
		return s.fillRelationships(ctx, tx, sc, out)
	})
	if err != nil {
		return nil, "", err
	}
	if out == nil {
		out = []*contextd.Context{}
	}
	return out, next, nil
}

// UpdateContext implements contextd.ContextStore. The node is locked before
// its version is read, so of concurrent updates at one IfVersion one wins.
func (s *Store) UpdateContext(ctx context.Context, sc contextd.Scope, id string, u contextd.ContextUpdate) (*contextd.Context, error) {
	now := s.clock()
	var c *contextd.Context
	err := s.write(ctx, "update context", func(tx neo4j.ManagedTransaction) error {
		var err error
		if c, err = s.getContext(ctx, tx, sc, id, true); err != nil {
			return err
		}
		if u.IfVersion != 0 && u.IfVersion != c.Version {
			return contextd.Errorf(contextd.EPRECONDITION, "context %q is at version %d, not %d", id, c.Version, u.IfVersion)
		}
		if u.Title != nil {
			c.Title = *u.Title
		}
		if u.Content != nil {
			c.Content = *u.Content
		}
		if u.Type != nil {
			c.Type = *u.Type
		}
		if u.Status != nil {
			c.Status = *u.Status
		}
		if u.SessionID != nil && *u.SessionID != c.SessionID {
			c.SessionID = *u.SessionID
			if c.SessionID != "" {
				if err := s.ensureSession(ctx, tx, sc, c.SessionID, c.UserID, now, false, "body.sessionId"); err != nil {
					return err
				}
			}
		}
		if u.Tags != nil {
			c.Tags = *u.Tags
			if c.Tags == nil {
				c.Tags = []string{}
			}
		}
		if u.Metadata != nil {
			c.Metadata = *u.Metadata
			if c.Metadata == nil {
				c.Metadata = map[string]any{}
			}
		}
		c.Version++
		c.UpdatedAt = now
		p, err := s.contextProps(sc, c)
		if err != nil {
			return err
		}
		if err := keepVector(ctx, tx, "Context", p, u.Vector, u.VectorModel); err != nil {
			return err
		}
		if err := exec(ctx, tx, `MATCH (c:Context {uk: $uk}) SET c = $props`, params{"uk": p["uk"], "props": p}); err != nil {
			return err
		}
		if err := s.logPut(ctx, tx, sc, contextd.OpUpdate, &contextd.Record{Kind: contextd.KindContext, Tenant: sc.Tenant, Context: c}, now); err != nil {
			return err
		}
		return s.fillRelationships(ctx, tx, sc, []*contextd.Context{c})
	})
	if err != nil {
		return nil, err
	}
	s.index().Upsert(sc.Tenant, contextd.VectorContext, u.VectorModel, contextd.ContextVectorEntry(c, u.Vector))
	return c, nil
}

// DeleteContext implements contextd.ContextStore: the node goes with every
// edge touching it (DETACH DELETE) and its full-text entries.
func (s *Store) DeleteContext(ctx context.Context, sc contextd.Scope, id string) error {
	now := s.clock()
	defer s.vectorsRemoved(sc.Tenant, contextd.VectorContext, id)
	return s.write(ctx, "delete context", func(tx neo4j.ManagedTransaction) error {
		return s.deleteContextTx(ctx, tx, sc, id, now)
	})
}
