package sqlite

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/contextd/contextd"
)

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
//
// The statement's text depends only on whether the scope has a user, so it
// is built once per shape (contextEdgesQuery). It has no ORDER BY: sorting
// the union made SQLite copy every row, the content included, into a sorter
// and out again; the few edges are put in order here instead (created_at,
// then id, as the ORDER BY did). It runs on the driver's statement directly
// (conn.queryRows: the C API of the plaintext driver, else conn.queryRaw),
// without database/sql's rows and conversions.
func getContextEdges(ctx context.Context, q *conn, s contextd.Scope, id string) (*contextd.Context, error) {
	// The statement names its parameters ?1 (tenant), ?2 (id) and ?3
	// (user): each value is bound once, not once per place it is used.
	args := [3]string{s.Tenant, id, s.UserID}
	n := 2
	if s.UserID != "" {
		n = 3
	}
	var (
		got   *contextd.Context
		edges []rawEdge
	)
	err := q.queryRows(ctx, contextEdgesQuery(s.UserID != ""), args[:n], func(row rowReader) error {
		kind, err := row.int(0)
		if err != nil {
			return fmt.Errorf("column 0: %w", err)
		}
		if kind == 0 {
			got, err = rawContext(row, 1)
			return err
		}
		e, err := rawRelationship(row)
		if err != nil {
			return err
		}
		edges = append(edges, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if got == nil {
		return nil, notFound("context", id)
	}
	// Oldest first, then by id: the order of ORDER BY created_at, id (ids
	// compare as bytes, like SQLite's BINARY collation).
	slices.SortFunc(edges, func(a, b rawEdge) int {
		return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.r.ID, b.r.ID))
	})
	got.Relationships = make([]*contextd.Relationship, len(edges))
	for i, e := range edges {
		got.Relationships[i] = e.r
	}
	return got, nil
}

// rawEdge is an edge row and its created_at, the sort key.
type rawEdge struct {
	r  *contextd.Relationship
	at int64
}

// The context row's columns and, in the same places, an edge row's: id,
// type (title), source_id (content), target_id (type), properties (status),
// created_at (created_at).
const edgeRowCols = `1, NULL, r.id, r.type, r.source_id, r.target_id, r.properties, '', '', '', '', r.created_at, 0, 0`

// contextEdgesQueries are the texts of getContextEdges: [0] for a scope
// without a user, [1] with one.
var contextEdgesQueries = [2]string{buildContextEdgesQuery(false), buildContextEdgesQuery(true)}

func contextEdgesQuery(user bool) string {
	if user {
		return contextEdgesQueries[1]
	}
	return contextEdgesQueries[0]
}

// buildContextEdgesQuery writes the statement with the conditions of the
// visibility helpers, then numbers their parameters: ?1 the tenant, ?2 the
// context's id, ?3 the user (when scoped).
func buildContextEdgesQuery(user bool) string {
	sc := contextd.Scope{Tenant: "?"}
	if user {
		sc.UserID = "?"
	}
	var c sqlBuilder
	c.visible(sc, "c")
	c.add("c.id = ?")
	part := func(col string, notSource bool) sqlBuilder {
		var b sqlBuilder
		b.edgeVisible(sc, "r")
		b.add("r." + col + " = ?")
		if notSource { // a self-loop comes once, from the source part
			b.add("r.source_id <> ?")
		}
		return b
	}
	out, in := part("source_id", false), part("target_id", true)
	q := `SELECT 0, ` + contextCols + ` FROM contexts c WHERE ` + c.where() +
		` UNION ALL SELECT ` + edgeRowCols + ` FROM relationships r WHERE ` + out.where() +
		` UNION ALL SELECT ` + edgeRowCols + ` FROM relationships r WHERE ` + in.where()
	// The helpers' parameters, in the order they appear: the context's
	// tenant[, user], id; each edge part's tenant[, user, user], id; the
	// incoming part's id again (the self-loop condition).
	order := []string{"?1", "?2", "?1", "?2", "?1", "?2", "?2"}
	if user {
		order = []string{"?1", "?3", "?2", "?1", "?3", "?3", "?2", "?1", "?3", "?3", "?2", "?2"}
	}
	var sb strings.Builder
	for i := 0; i < len(q); i++ {
		if q[i] != '?' {
			sb.WriteByte(q[i])
			continue
		}
		if len(order) == 0 {
			panic("sqlite: getContextEdges has more parameters than it numbers")
		}
		sb.WriteString(order[0])
		order = order[1:]
	}
	if len(order) != 0 {
		panic("sqlite: getContextEdges has fewer parameters than it numbers")
	}
	return sb.String()
}

// rawContext reads a row of contextCols, starting at column at.
func rawContext(row rowReader, at int) (*contextd.Context, error) {
	var (
		c          contextd.Context
		tags, meta string
		err        error
	)
	// row[0] is the pk, unused.
	for i, dst := range []*string{&c.ID, &c.Title, &c.Content, &c.Type, &c.Status, &c.UserID, &c.SessionID, &tags, &meta} {
		if *dst, err = row.str(at + 1 + i); err != nil {
			return nil, fmt.Errorf("column %d: %w", 3+i, err)
		}
	}
	var created, updated int64
	for i, dst := range []*int64{&created, &updated, &c.Version} {
		if *dst, err = row.int(at + 10 + i); err != nil {
			return nil, fmt.Errorf("column %d: %w", 12+i, err)
		}
	}
	if c.Tags, err = decodeTags(tags); err != nil {
		return nil, fmt.Errorf("context %q: tags: %w", c.ID, err)
	}
	if c.Metadata, err = decodeObject(meta); err != nil {
		return nil, fmt.Errorf("context %q: metadata: %w", c.ID, err)
	}
	c.CreatedAt, c.UpdatedAt = fromNanos(created), fromNanos(updated)
	c.Relationships = []*contextd.Relationship{}
	return &c, nil
}

// rawRelationship reads an edge row of getContextEdges.
func rawRelationship(row rowReader) (rawEdge, error) {
	var (
		r     contextd.Relationship
		props string
		err   error
	)
	for i, dst := range []*string{&r.ID, &r.Type, &r.SourceID, &r.TargetID, &props} {
		if *dst, err = row.str(2 + i); err != nil {
			return rawEdge{}, fmt.Errorf("column %d: %w", 3+i, err)
		}
	}
	at, err := row.int(11)
	if err != nil {
		return rawEdge{}, fmt.Errorf("column 12: %w", err)
	}
	r.CreatedAt = fromNanos(at)
	if r.Properties, err = decodeObject(props); err != nil {
		return rawEdge{}, fmt.Errorf("relationship %q: properties: %w", r.ID, err)
	}
	return rawEdge{r: &r, at: at}, nil
}
