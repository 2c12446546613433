package neo4j

import (
	"context"
	"fmt"
	"time"

	"github.com/contextd/contextd"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// ensureSession creates session id (for user uid) when the tenant has none of
// that id; with touch, an existing session's lastActiveAt and updatedAt move
// to now. A session of another user than a user-bound scope's is a taken id.
// MERGE on the uniquely constrained uk is safe under concurrency: two
// writers creating one session get one node.
func (s *Store) ensureSession(ctx context.Context, tx neo4j.ManagedTransaction, sc contextd.Scope, id, uid string, now time.Time, touch bool, loc string) error {
	if !contextd.ValidID(id) {
		return contextd.Invalid(loc, "must be a valid session id")
	}
	sk := s.sk(sc.Tenant)
	onMatch := ""
	if touch {
		onMatch = ` ON MATCH SET s.lastActiveAt = $now, s.updatedAt = $now`
	}
	row, err := single(ctx, tx, `OPTIONAL MATCH (old:Session {uk: $uk})
		WITH old IS NULL AS isNew
		MERGE (s:Session {uk: $uk})
		ON CREATE SET s.sk = $sk, s.tenant = $tenant, s.id = $id, s.userId = $uid, s.title = '', s.metadata = '{}',
			s.createdAt = $now, s.updatedAt = $now, s.lastActiveAt = $now`+onMatch+`
		RETURN s.userId AS owner, isNew`,
		params{"uk": uk(sk, id), "sk": sk, "tenant": sc.Tenant, "id": id, "uid": uid, "now": nanos(now)})
	if err != nil {
		return err
	}
	if sc.UserID != "" && row != nil && str(row["owner"]) != sc.UserID {
		return conflict(loc, "session id %q is already taken", id)
	}
	if isNew, _ := row["isNew"].(bool); isNew {
		return s.logSession(ctx, tx, sc, contextd.OpCreate, id, now)
	} else if touch {
		return s.logSession(ctx, tx, sc, contextd.OpUpdate, id, now)
	}
	return nil
}

// sessionReturn returns session s with its counts (live memories and
// contexts, as the scope sees them).
func sessionReturn(uidFilter bool) string {
	mUser, cUser := "", ""
	if uidFilter {
		mUser, cUser = " AND m.userId = $scopeUid", " AND c.userId = $scopeUid"
	}
	return ` RETURN s {.id, .userId, .title, .metadata, .createdAt, .updatedAt, .lastActiveAt} AS s,
		COUNT { MATCH (m:Memory) WHERE m.sk = s.sk AND m.sessionId = s.id AND (m.expiresAt IS NULL OR m.expiresAt > $now)` + mUser + ` } AS memories,
		COUNT { MATCH (c:Context) WHERE c.sk = s.sk AND c.sessionId = s.id` + cUser + ` } AS contexts`
}

func decodeSession(row map[string]any) (*contextd.Session, error) {
	m, ok := row["s"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("session: unexpected %T", row["s"])
	}
	ss := &contextd.Session{ID: str(m["id"]), UserID: str(m["userId"]), Title: str(m["title"]),
		CreatedAt: fromNanos(i64(m["createdAt"])), UpdatedAt: fromNanos(i64(m["updatedAt"])),
		LastActiveAt: fromNanos(i64(m["lastActiveAt"])),
		MemoryCount:  int(i64(row["memories"])), ContextCount: int(i64(row["contexts"]))}
	var err error
	if ss.Metadata, err = decodeObject(str(m["metadata"])); err != nil {
		return nil, fmt.Errorf("session %q: metadata: %w", ss.ID, err)
	}
	return ss, nil
}

func (s *Store) getSession(ctx context.Context, tx neo4j.ManagedTransaction, sc contextd.Scope, id string, now time.Time) (*contextd.Session, error) {
	w := newWhere(params{"uk": uk(s.sk(sc.Tenant), id), "now": nanos(now), "scopeUid": sc.UserID})
	s.visible(w, sc, "s")
	row, err := single(ctx, tx, `MATCH (s:Session {uk: $uk}) WHERE `+w.String()+sessionReturn(sc.UserID != ""), w.p)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, notFound("session", id)
	}
	return decodeSession(row)
}

// CreateSession implements contextd.SessionStore.
func (s *Store) CreateSession(ctx context.Context, sc contextd.Scope, c contextd.SessionCreate) (*contextd.Session, error) {
	now := s.clock()
	uid := c.UserID
	if uid == "" {
		uid = sc.UserID
	}
	if err := sc.CheckUser(uid, "body.userId"); err != nil {
		return nil, err
	}
	id := c.ID
	if id == "" {
		id = contextd.NewID(now)
	} else if !contextd.ValidID(id) {
		return nil, contextd.Invalid("body.id", "must be a valid id")
	}
	if c.Metadata == nil {
		c.Metadata = map[string]any{}
	}
	meta, err := jsonText(c.Metadata)
	if err != nil {
		return nil, err
	}
	sk := s.sk(sc.Tenant)
	var out *contextd.Session
	err = s.write(ctx, "create session", func(tx neo4j.ManagedTransaction) error {
		row, err := single(ctx, tx, `MATCH (s:Session {uk: $uk}) RETURN true AS taken`, params{"uk": uk(sk, id)})
		if err != nil {
			return err
		}
		if row != nil {
			return conflict("body.id", "session id %q is already taken", id)
		}
		if err := exec(ctx, tx, `CREATE (s:Session {uk: $uk, sk: $sk, tenant: $tenant, id: $id, userId: $uid, title: $title,
			metadata: $meta, createdAt: $now, updatedAt: $now, lastActiveAt: $now})`,
			params{"uk": uk(sk, id), "sk": sk, "tenant": sc.Tenant, "id": id, "uid": uid, "title": c.Title, "meta": meta, "now": nanos(now)}); err != nil {
			return err
		}
		if out, err = s.getSession(ctx, tx, sc, id, now); err != nil {
			return err
		}
		return s.logSession(ctx, tx, sc, contextd.OpCreate, id, now)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetSession implements contextd.SessionStore.
func (s *Store) GetSession(ctx context.Context, sc contextd.Scope, id string) (*contextd.Session, error) {
	now := s.clock()
	var out *contextd.Session
	err := s.read(ctx, "get session", func(tx neo4j.ManagedTransaction) error {
		var err error
		out, err = s.getSession(ctx, tx, sc, id, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FindSessions implements contextd.SessionStore.
func (s *Store) FindSessions(ctx context.Context, sc contextd.Scope, f contextd.SessionFilter) ([]*contextd.Session, string, error) {
	now := s.clock()
	limit := listLimit(f.Limit)
	w := newWhere(params{"now": nanos(now), "scopeUid": sc.UserID, "lim": int64(limit + 1)})
	s.visible(w, sc, "s")
	if f.UserID != "" {
		w.add("s.userId = %s", f.UserID)
	}
	order, err := w.keyset("s", f.Cursor, f.Ascending)
	if err != nil {
		return nil, "", err
	}
	var (
		out  []*contextd.Session
		next string
	)
	err = s.read(ctx, "find sessions", func(tx neo4j.ManagedTransaction) error {
		out, next = []*contextd.Session{}, ""
		rows, err := collect(ctx, tx, `MATCH (s:Session) WHERE `+w.String()+` WITH s ORDER BY `+order+` LIMIT $lim`+
			sessionReturn(sc.UserID != ""), w.p)
		if err != nil {
			return err
		}
		for _, r := range rows {
			ss, err := decodeSession(r)
			if err != nil {
				return err
			}
			if len(out) == limit {
				last := out[len(out)-1]
				next = encodeCursor(nanos(last.CreatedAt), last.ID)
				break
			}
			out = append(out, ss)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// DeleteSession implements contextd.SessionStore: the session and its
// memories go; contexts keep their sessionId.
func (s *Store) DeleteSession(ctx context.Context, sc contextd.Scope, id string) error {
	now := s.clock()
	defer s.vectorsRemoved(sc.Tenant, contextd.VectorMemory)
	return s.write(ctx, "delete session", func(tx neo4j.ManagedTransaction) error {
		return s.deleteSessionTx(ctx, tx, sc, id, now)
	})
}
