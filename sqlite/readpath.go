package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/contextd/contextd"
)

// readerMmap returns the pragmas that let plaintext read connections read
// pages through one shared memory map of the file's first totalMB MiB
// instead of copying each page into their own page cache with a read(2):
// a point read (a context by id) then costs no system call and no page
// allocation, and the readers share one copy of the hot pages instead of
// each caching its own. The map is bounded by the store's cache budget
// (Options.CacheSizeMB), since the mapped pages count in the process's
// resident memory. Writes still go through the writer's write(2) calls
// (SQLite never writes through the map), so durability is unchanged.
func readerMmap(totalMB int) []string {
	return []string{fmt.Sprintf("mmap_size(%d)", int64(totalMB)<<20)}
}

// readPoint runs fn, a point read of one statement (its own consistent
// snapshot: no BEGIN and ROLLBACK around it), on a detached read
// connection, which the driver runs without watching the context. With a
// cancellable context the driver starts a goroutine per statement to
// interrupt it on cancellation, which costs more than a point read itself;
// a point read cannot run long (readers never wait for the writer under
// WAL), so the context is checked before it starts instead.
func (s *Store) readPoint(ctx context.Context, op string, fn func(c *conn) error) error {
	if err := ctx.Err(); err != nil {
		return s.fail(ctx, op, err)
	}
	c, err := s.readers.take(ctx, s.closed)
	if err != nil {
		return s.fail(ctx, op, err)
	}
	defer s.readers.put(c)
	c.detached = true
	defer func() { c.detached = false }()
	if err := fn(c); err != nil {
		return s.fail(ctx, op, err)
	}
	return nil
}

// getContextEdges loads one visible context and its visible edges (both
// directions, oldest first) in one statement: the context's row first, then
// one row per edge. A single statement is its own consistent snapshot, so
// it needs no BEGIN and ROLLBACK around it; with them and a second query it
// was four statements, each a trip through database/sql and the driver.
func getContextEdges(ctx context.Context, q *conn, s contextd.Scope, id string) (*contextd.Context, error) {
	var c sqlBuilder
	c.visible(s, "c")
	c.add("c.id = ?", id)
	part := func(col string, notSource bool) sqlBuilder {
		var b sqlBuilder
		b.edgeVisible(s, "r")
		b.add("r."+col+" = ?", id)
		if notSource { // a self-loop comes once, from the source part
			b.add("r.source_id <> ?", id)
		}
		return b
	}
	out, in := part("source_id", false), part("target_id", true)
	// The edge rows put the edge's columns in the context row's places:
	// id, type (title), source_id (content), target_id (type), properties
	// (status), created_at (created_at).
	const edgeCols = `1, NULL, r.id, r.type, r.source_id, r.target_id, r.properties, '', '', '', '', r.created_at, 0, 0`
	query := `SELECT 0, ` + contextCols + ` FROM contexts c WHERE ` + c.where() +
		` UNION ALL SELECT ` + edgeCols + ` FROM relationships r WHERE ` + out.where() +
		` UNION ALL SELECT ` + edgeCols + ` FROM relationships r WHERE ` + in.where() +
		` ORDER BY 1, 12, 3`
	args := append(append(c.args, out.args...), in.args...)
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		got  *contextd.Context
		kind int
		pk   sql.NullInt64
	)
	for rows.Next() {
		var (
			cx             contextd.Context
			tags, meta     string
			created, updat int64
		)
		if err := rows.Scan(&kind, &pk, &cx.ID, &cx.Title, &cx.Content, &cx.Type, &cx.Status, &cx.UserID, &cx.SessionID,
			&tags, &meta, &created, &updat, &cx.Version); err != nil {
			return nil, err
		}
		if kind == 0 {
			if cx.Tags, err = decodeTags(tags); err != nil {
				return nil, fmt.Errorf("context %q: tags: %w", cx.ID, err)
			}
			if cx.Metadata, err = decodeObject(meta); err != nil {
				return nil, fmt.Errorf("context %q: metadata: %w", cx.ID, err)
			}
			cx.CreatedAt, cx.UpdatedAt = fromNanos(created), fromNanos(updat)
			cx.Relationships = []*contextd.Relationship{}
			got = &cx
			continue
		}
		if got == nil { // cannot happen: the context's row sorts first
			return nil, notFound("context", id)
		}
		r := &contextd.Relationship{ID: cx.ID, Type: cx.Title, SourceID: cx.Content, TargetID: cx.Type, CreatedAt: fromNanos(created)}
		if r.Properties, err = decodeObject(cx.Status); err != nil {
			return nil, fmt.Errorf("relationship %q: properties: %w", r.ID, err)
		}
		got.Relationships = append(got.Relationships, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if got == nil {
		return nil, notFound("context", id)
	}
	return got, nil
}
