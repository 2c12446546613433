package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/contextd/contextd"
)

// ensureSession creates session id (for user uid) when the tenant has none of
// that id; with touch, an existing session's lastActiveAt and updatedAt move
// to now. A session of another user than a user-bound scope's is a taken id.
//
// The change record of the session is made from the row read here (and the
// times written), not read again after the write: a memory write runs two
// statements for its session instead of three. (Not UPDATE ... RETURNING:
// that statement opens a statement journal, and FTS5 flushes the rows the
// transaction has indexed so far to a segment at every savepoint.)
func (s *Store) ensureSession(ctx context.Context, tx *conn, sc contextd.Scope, id, uid string, now time.Time, touch bool, loc string) error {
	if !contextd.ValidID(id) {
		return contextd.Invalid(loc, "must be a valid session id")
	}
	ss, err := scanSession(tx.QueryRowContext(ctx, `SELECT id, user_id, title, metadata, created_at, updated_at, last_active_at, 0, 0
		FROM sessions WHERE tenant = ? AND id = ?`, sc.Tenant, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (tenant, id, user_id, title, metadata, created_at, updated_at, last_active_at)
			VALUES (?, ?, ?, '', '{}', ?, ?, ?)`, sc.Tenant, id, uid, nanos(now), nanos(now), nanos(now)); err != nil {
			return err
		}
		at := fromNanos(nanos(now)) // as the row reads back
		ss = &contextd.Session{ID: id, UserID: uid, Metadata: map[string]any{}, CreatedAt: at, UpdatedAt: at, LastActiveAt: at}
		return logPut(ctx, tx, sc, contextd.OpCreate, &contextd.Record{Kind: contextd.KindSession, Tenant: sc.Tenant, Session: ss}, now)
	case err != nil:
		return err
	}
	if sc.UserID != "" && ss.UserID != sc.UserID {
		return conflict(loc, "session id %q is already taken", id)
	}
	if !touch {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE sessions SET last_active_at = ?, updated_at = ? WHERE tenant = ? AND id = ?`,
		nanos(now), nanos(now), sc.Tenant, id); err != nil {
		return err
	}
	ss.UpdatedAt, ss.LastActiveAt = fromNanos(nanos(now)), fromNanos(nanos(now))
	return logPut(ctx, tx, sc, contextd.OpUpdate, &contextd.Record{Kind: contextd.KindSession, Tenant: sc.Tenant, Session: ss}, now)
}

// sessionSelect returns the SELECT of sessions with their counts for alias s
// (live memories and contexts, as the scope sees them) and its arguments.
func sessionSelect(sc contextd.Scope, now time.Time) (string, []any) {
	mUser, cUser := "", ""
	args := []any{nanos(now)}
	if sc.UserID != "" {
		mUser, cUser = " AND m.user_id = ?", " AND c.user_id = ?"
		args = append(args, sc.UserID)
	}
	q := `SELECT s.id, s.user_id, s.title, s.metadata, s.created_at, s.updated_at, s.last_active_at,
		(SELECT count(*) FROM memories m WHERE m.tenant = s.tenant AND m.session_id = s.id
			AND (m.expires_at IS NULL OR m.expires_at > ?)` + mUser + `),
		(SELECT count(*) FROM contexts c WHERE c.tenant = s.tenant AND c.session_id = s.id` + cUser + `)
		FROM sessions s`
	if sc.UserID != "" {
		args = append(args, sc.UserID)
	}
	return q, args
}

func scanSession(row scanner) (*contextd.Session, error) {
	var (
		ss                  contextd.Session
		meta                string
		created, upd, activ int64
	)
	if err := row.Scan(&ss.ID, &ss.UserID, &ss.Title, &meta, &created, &upd, &activ, &ss.MemoryCount, &ss.ContextCount); err != nil {
		return nil, err
	}
	var err error
	if ss.Metadata, err = decodeObject(meta); err != nil {
		return nil, fmt.Errorf("session %q: metadata: %w", ss.ID, err)
	}
	ss.CreatedAt, ss.UpdatedAt, ss.LastActiveAt = fromNanos(created), fromNanos(upd), fromNanos(activ)
	return &ss, nil
}

func getSession(ctx context.Context, q *conn, sc contextd.Scope, id string, now time.Time) (*contextd.Session, error) {
	sel, args := sessionSelect(sc, now)
	var b sqlBuilder
	b.visible(sc, "s")
	b.add("s.id = ?", id)
	ss, err := scanSession(q.QueryRowContext(ctx, sel+` WHERE `+b.where(), append(args, b.args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("session", id)
	}
	return ss, err
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
	var out *contextd.Session
	err = s.write(ctx, "create session", func(tx *conn) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (tenant, id, user_id, title, metadata, created_at, updated_at, last_active_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, sc.Tenant, id, uid, c.Title, meta, nanos(now), nanos(now), nanos(now)); err != nil {
			if isUnique(err) {
				return conflict("body.id", "session id %q is already taken", id)
			}
			return err
		}
		var err error
		if out, err = getSession(ctx, tx, sc, id, now); err != nil {
			return err
		}
		return logSession(ctx, tx, sc, contextd.OpCreate, id, now)
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
	err := s.read(ctx, "get session", func(tx *conn) error {
		var err error
		out, err = getSession(ctx, tx, sc, id, now)
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
	sel, args := sessionSelect(sc, now)
	var b sqlBuilder
	b.visible(sc, "s")
	if f.UserID != "" {
		b.add("s.user_id = ?", f.UserID)
	}
	order, err := b.keyset("s", f.Cursor, f.Ascending)
	if err != nil {
		return nil, "", err
	}
	limit := listLimit(f.Limit)
	out := []*contextd.Session{}
	var next string
	err = s.read(ctx, "find sessions", func(tx *conn) error {
		rows, err := tx.QueryContext(ctx, sel+` WHERE `+b.where()+` ORDER BY `+order+` LIMIT ?`,
			append(append(args, b.args...), limit+1)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			ss, err := scanSession(rows)
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
		return rows.Err()
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// DeleteSession implements contextd.SessionStore: the session and its
// memories go (their index entries with the delete trigger); contexts keep
// their sessionId.
func (s *Store) DeleteSession(ctx context.Context, sc contextd.Scope, id string) error {
	now := s.clock()
	defer s.vectorsRemoved(sc.Tenant, contextd.VectorMemory)
	return s.write(ctx, "delete session", func(tx *conn) error {
		return deleteSessionTx(ctx, tx, sc, id, now)
	})
}

// deleteSessionTx deletes a visible session and its memories, logging each.
func deleteSessionTx(ctx context.Context, tx *conn, sc contextd.Scope, id string, now time.Time) error {
	var b sqlBuilder
	b.visible(sc, "s")
	b.add("s.id = ?", id)
	var userID string
	err := tx.QueryRowContext(ctx, `DELETE FROM sessions AS s WHERE `+b.where()+` RETURNING user_id`, b.args...).Scan(&userID)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("session", id)
	} else if err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `DELETE FROM memories WHERE tenant = ? AND session_id = ? RETURNING pk, content, id, user_id, version`, sc.Tenant, id)
	if err != nil {
		return err
	}
	type gone struct {
		pk                  int64
		content, id, userID string
		version             int64
	}
	var deleted []gone
	for rows.Next() {
		var g gone
		if err := rows.Scan(&g.pk, &g.content, &g.id, &g.userID, &g.version); err != nil {
			rows.Close()
			return err
		}
		deleted = append(deleted, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, g := range deleted {
		if err := unindexMemory(ctx, tx, g.pk, g.content); err != nil {
			return err
		}
		if err := logDelete(ctx, tx, sc, contextd.KindMemory, g.id, g.userID, g.version, now); err != nil {
			return err
		}
	}
	return logDelete(ctx, tx, sc, contextd.KindSession, id, userID, 0, now)
}
