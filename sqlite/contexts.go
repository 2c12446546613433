package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/contextd/contextd"
)

// contextCols are the columns scanContext reads, for table alias c.
const contextCols = `c.pk, c.id, c.title, c.content, c.type, c.status, c.user_id, c.session_id,
	c.tags, c.metadata, c.created_at, c.updated_at, c.version`

type scanner interface{ Scan(dest ...any) error }

// scanContext reads one row of contextCols.
func scanContext(row scanner) (*contextd.Context, int64, error) {
	var (
		c              contextd.Context
		pk             int64
		tags, meta     string
		created, updat int64
	)
	if err := row.Scan(&pk, &c.ID, &c.Title, &c.Content, &c.Type, &c.Status, &c.UserID, &c.SessionID,
		&tags, &meta, &created, &updat, &c.Version); err != nil {
		return nil, 0, err
	}
	var err error
	if c.Tags, err = decodeTags(tags); err != nil {
		return nil, 0, fmt.Errorf("context %q: tags: %w", c.ID, err)
	}
	if c.Metadata, err = decodeObject(meta); err != nil {
		return nil, 0, fmt.Errorf("context %q: metadata: %w", c.ID, err)
	}
	c.CreatedAt, c.UpdatedAt = fromNanos(created), fromNanos(updat)
	c.Relationships = []*contextd.Relationship{}
	return &c, pk, nil
}

// visible adds the scope's walls on table alias a to b.
func (b *sqlBuilder) visible(s contextd.Scope, a string) {
	b.add(a+".tenant = ?", s.Tenant)
	if s.UserID != "" {
		b.add(a+".user_id = ?", s.UserID)
	}
}

// getContext loads one visible context without its relationships.
func getContext(ctx context.Context, q *conn, s contextd.Scope, id string) (*contextd.Context, int64, error) {
	var b sqlBuilder
	b.visible(s, "c")
	b.add("c.id = ?", id)
	c, pk, err := scanContext(q.QueryRowContext(ctx, `SELECT `+contextCols+` FROM contexts c WHERE `+b.where(), b.args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, notFound("context", id)
	}
	return c, pk, err
}

// contextVisible reports whether the context id exists in the scope.
func contextVisible(ctx context.Context, q *conn, s contextd.Scope, id string) (bool, error) {
	var b sqlBuilder
	b.visible(s, "c")
	b.add("c.id = ?", id)
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM contexts c WHERE `+b.where(), b.args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// CreateContexts implements contextd.ContextStore.
func (s *Store) CreateContexts(ctx context.Context, sc contextd.Scope, items []contextd.ContextCreate) ([]*contextd.Context, error) {
	if len(items) == 0 {
		return []*contextd.Context{}, nil
	}
	now := s.clock()
	out := make([]*contextd.Context, len(items))
	prep := prepareContexts(sc, items, now)
	vectors := hasVector(items, func(it *contextd.ContextCreate) []float32 { return it.Vector })
	err := s.write(ctx, "create contexts", func(tx *conn) error {
		var (
			first    int64
			dirty    dirtyMarks
			sessions = map[string]bool{}
		)
		for i := range prep {
			p, it := &prep[i], &items[i]
			if p.c == nil {
				return p.err // not valid
			}
			c := p.c
			if c.SessionID != "" && !sessions[c.SessionID] {
				if err := s.ensureSession(ctx, tx, sc, c.SessionID, c.UserID, now, false, "items["+strconv.Itoa(i)+"].sessionId"); err != nil {
					return err
				}
				sessions[c.SessionID] = true
			}
			if p.err != nil {
				return p.err
			}
			if i == 0 {
				var err error
				if first, err = newAllocator("contexts", sc.Tenant).newPKs(ctx, tx, int64(len(prep))); err != nil {
					return err
				}
			}
			pk := first + int64(i)
			_, err := tx.ExecContext(ctx, `INSERT INTO contexts
				(pk, tenant, id, title, content, type, status, user_id, session_id, tags, metadata, created_at, updated_at, version)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`, pk, sc.Tenant, c.ID, c.Title, c.Content, c.Type, c.Status, c.UserID, c.SessionID,
				p.tags, p.meta, nanos(now), nanos(now))
			if err != nil {
				if isUnique(err) {
					loc := "items[" + strconv.Itoa(i) + "]"
					return conflict(loc+".id", "%s: context id %q is already taken", loc, c.ID)
				}
				return err
			}
			if err := dirty.mark(ctx, tx, pk); err != nil {
				return err
			}
			if err := insertIndexes(ctx, tx, contextIndex, pk, c.Title, c.Content); err != nil {
				return err
			}
			if err := putVector(ctx, tx, contextd.VectorContext, pk, it.Vector, it.VectorModel); err != nil {
				return err
			}
			if err := writeContextTags(ctx, tx, sc.Tenant, pk, c.Tags, now); err != nil {
				return err
			}
			if err := insertChange(ctx, tx, p.change, now); err != nil {
				return err
			}
			out[i] = c
		}
		if vectors {
			if err := markEpoch(ctx, tx, contextd.VectorContext, now); err != nil {
				return err
			}
		}
		if !hasRelationships(items) {
			return nil // nothing else links to new contexts: their Relationships stay []
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
				if err := logPut(ctx, tx, sc, contextd.OpCreate, relationshipRecord(sc, rel), now); err != nil {
					return err
				}
			}
		}
		return fillRelationships(ctx, tx, sc, out)
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
	err := s.readPoint(ctx, "get context", func(q *conn) error {
		var err error
		c, err = getContextEdges(ctx, q, sc, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// FindContexts implements contextd.ContextStore.
func (s *Store) FindContexts(ctx context.Context, sc contextd.Scope, f contextd.ContextFilter) ([]*contextd.Context, string, error) {
	var b sqlBuilder
	b.visible(sc, "c")
	if f.UserID != "" {
		b.add("c.user_id = ?", f.UserID)
	}
	if f.Type != "" {
		b.add("c.type = ?", f.Type)
	}
	if f.Status != "" {
		b.add("c.status = ?", f.Status)
	}
	if f.SessionID != "" {
		b.add("c.session_id = ?", f.SessionID)
	}
	if !f.CreatedAfter.IsZero() {
		b.add("c.created_at > ?", nanos(f.CreatedAfter))
	}
	if !f.CreatedBefore.IsZero() {
		b.add("c.created_at < ?", nanos(f.CreatedBefore))
	}
	for _, t := range f.Tags {
		b.add("EXISTS (SELECT 1 FROM context_tags t WHERE t.context_pk = c.pk AND t.tag = ?)", t)
	}
	order, err := b.keyset("c", f.Cursor, f.Ascending)
	if err != nil {
		return nil, "", err
	}
	limit := listLimit(f.Limit)
	var (
		out  []*contextd.Context
		next string
	)
	err = s.read(ctx, "find contexts", func(tx *conn) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+contextCols+` FROM contexts c WHERE `+b.where()+
			` ORDER BY `+order+` LIMIT ?`, append(b.args, limit+1)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var lastCreated int64
		for rows.Next() {
			c, _, err := scanContext(rows)
			if err != nil {
				return err
			}
			if len(out) == limit {
				next = encodeCursor(lastCreated, out[len(out)-1].ID)
				break
			}
			out = append(out, c)
			lastCreated = nanos(c.CreatedAt)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		return fillRelationships(ctx, tx, sc, out)
	})
	if err != nil {
		return nil, "", err
	}
	if out == nil {
		out = []*contextd.Context{}
	}
	return out, next, nil
}

// UpdateContext implements contextd.ContextStore.
func (s *Store) UpdateContext(ctx context.Context, sc contextd.Scope, id string, u contextd.ContextUpdate) (*contextd.Context, error) {
	now := s.clock()
	var c *contextd.Context
	err := s.write(ctx, "update context", func(tx *conn) error {
		var (
			pk  int64
			err error
		)
		if c, pk, err = getContext(ctx, tx, sc, id); err != nil {
			return err
		}
		if u.IfVersion != 0 && u.IfVersion != c.Version {
			return contextd.Errorf(contextd.EPRECONDITION, "context %q is at version %d, not %d", id, c.Version, u.IfVersion)
		}
		oldTitle, oldContent := c.Title, c.Content
		if u.Title != nil {
			c.Title = *u.Title
		}
		if u.Content != nil {
			c.Content = *u.Content
		}
		if c.Title != oldTitle || c.Content != oldContent {
			if err := unindexContext(ctx, tx, pk, oldTitle, oldContent); err != nil {
				return err
			}
			if err := indexContext(ctx, tx, pk, c.Title, c.Content); err != nil {
				return err
			}
		}
		if u.Type != nil || u.Status != nil || u.SessionID != nil || u.Tags != nil || u.Metadata != nil {
			// The top-k index's filter columns hold these fields: until
			// the next segment, search tests this row by the row.
			if err := markDirty(ctx, tx, pk); err != nil {
				return err
			}
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
			if _, err := tx.ExecContext(ctx, `DELETE FROM context_tags WHERE context_pk = ?`, pk); err != nil {
				return err
			}
			if err := writeContextTags(ctx, tx, sc.Tenant, pk, c.Tags, c.CreatedAt); err != nil {
				return err
			}
		}
		if u.Metadata != nil {
			c.Metadata = *u.Metadata
			if c.Metadata == nil {
				c.Metadata = map[string]any{}
			}
		}
		tags, err := jsonText(c.Tags)
		if err != nil {
			return err
		}
		meta, err := jsonText(c.Metadata)
		if err != nil {
			return err
		}
		c.Version++
		c.UpdatedAt = now
		if _, err := tx.ExecContext(ctx, `UPDATE contexts SET title = ?, content = ?, type = ?, status = ?, session_id = ?,
			tags = ?, metadata = ?, updated_at = ?, version = ? WHERE pk = ?`,
			c.Title, c.Content, c.Type, c.Status, c.SessionID, tags, meta, nanos(now), c.Version, pk); err != nil {
			return err
		}
		if err := logPut(ctx, tx, sc, contextd.OpUpdate, contextRecord(sc, c), now); err != nil {
			return err
		}
		if err := putVector(ctx, tx, contextd.VectorContext, pk, u.Vector, u.VectorModel); err != nil {
			return err
		}
		return fillRelationships(ctx, tx, sc, []*contextd.Context{c})
	})
	if err != nil {
		return nil, err
	}
	s.contextsWritten(sc.Tenant, u.VectorModel, []*contextd.Context{c}, [][]float32{u.Vector})
	return c, nil
}

// DeleteContext implements contextd.ContextStore. Its tags and relationships
// go with it (ON DELETE CASCADE), its index entry with the delete trigger.
func (s *Store) DeleteContext(ctx context.Context, sc contextd.Scope, id string) error {
	now := s.clock()
	defer s.vectorsRemoved(sc.Tenant, contextd.VectorContext, id)
	return s.write(ctx, "delete context", func(tx *conn) error {
		return deleteContextTx(ctx, tx, sc, id, now)
	})
}

// The full-text indexes are written here, in the writing transaction, rather
// than by triggers: a trigger makes every statement a multi-row write with a
// statement journal, and FTS5 flushes its pending terms to a new segment at
// each such savepoint, which made batch inserts several times slower.

// indexContext adds a context's text to both full-text indexes of its shard.
func indexContext(ctx context.Context, tx *conn, pk int64, title, content string) error {
	if err := markDirty(ctx, tx, pk); err != nil {
		return err
	}
	return insertIndexes(ctx, tx, contextIndex, pk, title, content)
}

// unindexContext removes a context's text, as it was indexed, from both.
func unindexContext(ctx context.Context, tx *conn, pk int64, title, content string) error {
	if err := markDirty(ctx, tx, pk); err != nil {
		return err
	}
	if err := countText(ctx, tx, contextIndex, pk, -1); err != nil { // the tenant's counts (textstats.go)
		return err
	}
	for _, ix := range []string{contextIndex.stem, contextIndex.raw} {
		tx.markFTS(ix, pk)
		ix = ftsName(ix, shardOf(pk))
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+ix+` (`+ix+`, rowid, title, content) VALUES ('delete', ?, ?, ?)`,
			pk, title, content); err != nil {
			return err
		}
	}
	return nil
}

func writeContextTags(ctx context.Context, tx *conn, tenant string, pk int64, tags []string, created time.Time) error {
	for _, t := range tags {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO context_tags (context_pk, tenant, tag, created_at) VALUES (?, ?, ?, ?)`,
			pk, tenant, t, nanos(created)); err != nil {
			return err
		}
	}
	return nil
}
