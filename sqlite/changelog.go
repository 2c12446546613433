package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/contextd/contextd"
)

// The change log (table changes, migration 0005). Every write path calls one
// of logPut/logDelete inside its write transaction, so a change is in the log
// exactly when the mutation is committed, with the same time as the object's
// updatedAt.

var _ contextd.ChangeLog = (*Store)(nil)

// logPut records the new state of rec's object.
func logPut(ctx context.Context, tx *conn, sc contextd.Scope, op string, rec *contextd.Record, now time.Time) error {
	ch, err := contextd.PutChange(sc, op, rec)
	if err != nil {
		return err
	}
	return insertChange(ctx, tx, ch, now)
}

// logDelete records the deletion of an object (its last userId and version
// kept for history filters).
func logDelete(ctx context.Context, tx *conn, sc contextd.Scope, kind, id, userID string, version int64, now time.Time) error {
	return insertChange(ctx, tx, contextd.DeleteChange(sc, kind, id, userID, version), now)
}

func insertChange(ctx context.Context, tx *conn, ch *contextd.Change, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO changes (at, tenant, principal, op, kind, id, user_id, version, state)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, nanos(now), ch.Tenant, ch.Principal, ch.Op, ch.Kind, ch.ID, ch.UserID, ch.Version,
		ch.StoredState())
	return err
}

// logSession records the current state of session id of the tenant (after
// a memory or context moved its lastActiveAt, or it was created on the fly).
func logSession(ctx context.Context, tx *conn, sc contextd.Scope, op, id string, now time.Time) error {
	// The log keeps no counts (they change without the session changing):
	// the row alone, not sessionSelect's counting subqueries.
	ss, err := scanSession(tx.QueryRowContext(ctx, `SELECT id, user_id, title, metadata, created_at, updated_at, last_active_at, 0, 0
		FROM sessions WHERE tenant = ? AND id = ?`, sc.Tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("session", id)
	}
	if err != nil {
		return err
	}
	return logPut(ctx, tx, sc, op, &contextd.Record{Kind: contextd.KindSession, Tenant: sc.Tenant, Session: ss}, now)
}

const changeCols = `seq, at, tenant, principal, op, kind, id, user_id, version, state`

func scanChange(row scanner) (*contextd.Change, error) {
	var (
		ch    contextd.Change
		at    int64
		state sql.NullString
	)
	if err := row.Scan(&ch.Seq, &at, &ch.Tenant, &ch.Principal, &ch.Op, &ch.Kind, &ch.ID, &ch.UserID, &ch.Version, &state); err != nil {
		return nil, err
	}
	ch.At, ch.State = fromNanos(at), contextd.StateFromStored(state.String, state.Valid)
	return &ch, nil
}

// Changes implements contextd.ChangeLog.
func (s *Store) Changes(ctx context.Context, sc contextd.Scope, f contextd.ChangeFilter) ([]*contextd.Change, string, error) {
	var b sqlBuilder
	b.add("tenant = ?", sc.Tenant)
	if sc.UserID != "" {
		b.add("user_id = ?", sc.UserID)
	}
	if f.Kind != "" {
		b.add("kind = ?", f.Kind)
	}
	if f.ID != "" {
		b.add("id = ?", f.ID)
	}
	if f.After > 0 {
		b.add("seq > ?", f.After)
	}
	if !f.Until.IsZero() {
		b.add("at <= ?", nanos(f.Until))
	}
	limit := f.StoreLimit()
	out := []*contextd.Change{}
	err := s.read(ctx, "changes", func(c *conn) error {
		var err error
		out, err = queryChanges(ctx, c, `SELECT `+changeCols+` FROM changes WHERE `+b.where()+` ORDER BY seq LIMIT ?`,
			append(b.args, limit+1)...)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	out, next := contextd.CutPage(out, limit, contextd.ChangeSeqCursor)
	return out, next, nil
}

// ReadChanges implements contextd.ChangeLog, a page of changes per read
// transaction.
func (s *Store) ReadChanges(ctx context.Context, after, upTo int64, fn func(*contextd.Change) error) error {
	if upTo <= 0 {
		upTo = 1<<63 - 1
	}
	return contextd.ReadChangePages(after, exportPage, func(after int64) (page []*contextd.Change, err error) {
		err = s.read(ctx, "read changes", func(c *conn) error {
			page, err = queryChanges(ctx, c, `SELECT `+changeCols+` FROM changes WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
				after, upTo, exportPage)
			return err
		})
		return page, err
	}, fn)
}

// queryChanges runs a query of changeCols and returns its changes.
func queryChanges(ctx context.Context, c *conn, query string, args ...any) ([]*contextd.Change, error) {
	rows, err := c.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*contextd.Change{}
	for rows.Next() {
		ch, err := scanChange(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, ch)
	}
	return out, rows.Err()
}

// LastChange implements contextd.ChangeLog. The highest seq ever given is
// kept by AUTOINCREMENT in sqlite_sequence, so it survives pruning.
func (s *Store) LastChange(ctx context.Context) (int64, error) {
	var seq int64
	err := s.read(ctx, "last change", func(c *conn) error {
		err := c.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'changes'`).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			seq = 0
			return nil
		}
		return err
	})
	return seq, err
}

// PruneChanges implements contextd.ChangeLog.
func (s *Store) PruneChanges(ctx context.Context, upTo int64) (int64, error) {
	var n int64
	err := s.write(ctx, "prune changes", func(tx *conn) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM changes WHERE seq <= ?`, upTo)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// RestoreObjects implements contextd.ChangeLog.
func (s *Store) RestoreObjects(ctx context.Context, sc contextd.Scope, del []contextd.ObjectRef, recs []*contextd.Record) error {
	now := s.clock()
	tenant := contextd.Scope{Tenant: sc.Tenant, Principal: sc.Principal}
	return s.write(ctx, "restore objects", func(tx *conn) error {
		for _, ref := range del {
			var err error
			switch ref.Kind {
			case contextd.KindContext:
				err = deleteContextTx(ctx, tx, tenant, ref.ID, now)
			case contextd.KindRelationship:
				err = deleteRelationshipTx(ctx, tx, tenant, ref.ID, now)
			case contextd.KindMemory:
				err = deleteMemoryTx(ctx, tx, tenant, ref.ID, time.Time{}, now)
			case contextd.KindSession:
				err = deleteSessionTx(ctx, tx, tenant, ref.ID, now)
			default:
				err = contextd.Errorf(contextd.EINVALID, "unknown kind %q", ref.Kind)
			}
			if err != nil && contextd.ErrorCode(err) != contextd.ENOTFOUND {
				return err
			}
		}
		for i, rec := range recs {
			if rec.Kind == contextd.KindAPIKey {
				return contextd.Errorf(contextd.EINVALID, "record %d: API keys are not restored selectively", i)
			}
			rec.Tenant = sc.Tenant
			if err := s.importRecord(ctx, tx, rec); err != nil {
				if isUnique(err) {
					return contextd.Errorf(contextd.ECONFLICT, "record %d (%s %s): already exists", i, rec.Kind, rec.ID())
				}
				return err
			}
			if err := logPut(ctx, tx, tenant, contextd.OpRestore, rec, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// deleteContextTx deletes a visible context and its relationships (the
// edges go by ON DELETE CASCADE; each is logged as deleted first).
func deleteContextTx(ctx context.Context, tx *conn, sc contextd.Scope, id string, now time.Time) error {
	var b sqlBuilder
	b.visible(sc, "c")
	b.add("c.id = ?", id)
	var pk int64
	err := tx.QueryRowContext(ctx, `SELECT c.pk FROM contexts c WHERE `+b.where(), b.args...).Scan(&pk)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("context", id)
	} else if err != nil {
		return err
	}
	edges, err := pendingEdges(ctx, tx, sc.Tenant, id)
	if err != nil {
		return err
	}
	for _, rid := range edges {
		if err := logDelete(ctx, tx, sc, contextd.KindRelationship, rid, "", 0, now); err != nil {
			return err
		}
	}
	var (
		title, content, userID string
		version                int64
	)
	if err := tx.QueryRowContext(ctx, `DELETE FROM contexts WHERE pk = ? RETURNING title, content, user_id, version`, pk).
		Scan(&title, &content, &userID, &version); err != nil {
		return err
	}
	if err := unindexContext(ctx, tx, pk, title, content); err != nil {
		return err
	}
	return logDelete(ctx, tx, sc, contextd.KindContext, id, userID, version, now)
}

// pendingEdges lists the ids of the relationships touching context id of
// the tenant, before a delete cascades them away.
func pendingEdges(ctx context.Context, tx *conn, tenant, id string) ([]string, error) {
	return queryColumn[string](ctx, tx, `SELECT id FROM relationships WHERE tenant = ? AND (source_id = ? OR target_id = ?) ORDER BY pk`,
		tenant, id, id)
}

func contextRecord(sc contextd.Scope, c *contextd.Context) *contextd.Record {
	return &contextd.Record{Kind: contextd.KindContext, Tenant: sc.Tenant, Context: c}
}

func relationshipRecord(sc contextd.Scope, r *contextd.Relationship) *contextd.Record {
	return &contextd.Record{Kind: contextd.KindRelationship, Tenant: sc.Tenant, Relationship: r}
}

func memoryRecord(sc contextd.Scope, m *contextd.Memory) *contextd.Record {
	return &contextd.Record{Kind: contextd.KindMemory, Tenant: sc.Tenant, Memory: m}
}

// ImportChanges implements contextd.ChangeLog. Explicit seqs move
// AUTOINCREMENT's counter past them.
func (s *Store) ImportChanges(ctx context.Context, chs []*contextd.Change) error {
	if len(chs) == 0 {
		return nil
	}
	return s.write(ctx, "import changes", func(tx *conn) error {
		for _, ch := range chs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO changes (seq, at, tenant, principal, op, kind, id, user_id, version, state)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, ch.Seq, nanos(ch.At), ch.Tenant, ch.Principal, ch.Op, ch.Kind, ch.ID,
				ch.UserID, ch.Version, ch.StoredState()); err != nil {
				if isUnique(err) {
					return contextd.Errorf(contextd.ECONFLICT, "change %d is already in the log", ch.Seq)
				}
				return err
			}
		}
		return nil
	})
}
