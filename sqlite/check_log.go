package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/contextd/contextd"
)

// The change-log and vector items of Check, each read on the check's one
// snapshot.

// loggedTables are the tables of the objects the change log records, as
// (tenant, id, version, stamp) rows: stamp is the time of the row's last
// logged write (contextd.LoggedObject).
var loggedTables = []struct{ kind, rows string }{
	{contextd.KindContext, `SELECT tenant, id, version, updated_at AS stamp FROM contexts`},
	{contextd.KindMemory, `SELECT tenant, id, version, updated_at AS stamp FROM memories`},
	{contextd.KindSession, `SELECT tenant, id, 0 AS version, max(updated_at, last_active_at) AS stamp FROM sessions`},
	{contextd.KindRelationship, `SELECT tenant, id, 0 AS version, created_at AS stamp FROM relationships`},
}

// changeSpan reads the retained log's extent.
func changeSpan(ctx context.Context, c *conn) (contextd.ChangeLogSpan, error) {
	var sp contextd.ChangeLogSpan
	if err := c.QueryRowContext(ctx, `SELECT count(*), coalesce(min(seq), 0), coalesce(max(seq), 0) FROM changes`).
		Scan(&sp.Count, &sp.Oldest, &sp.Newest); err != nil {
		return sp, err
	}
	err := c.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'changes'`).Scan(&sp.Last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return sp, err
	}
	if sp.Count > 0 {
		var at int64
		if err := c.QueryRowContext(ctx, `SELECT at FROM changes WHERE seq = ?`, sp.Oldest).Scan(&at); err != nil {
			return sp, err
		}
		sp.OldestAt = fromNanos(at)
	}
	return sp, nil
}

// checkChangeLog adds the change-log items: continuity (counts, cheap), then
// the order of the changes and their agreement with the rows, over the
// newest contextd.ChangeTail changes, or with full over the whole log and
// every row (one index seek per row and per logged object).
func checkChangeLog(ctx context.Context, c *conn, full bool, add func(contextd.CheckItem)) error {
	sp, err := changeSpan(ctx, c)
	if err != nil {
		return err
	}
	add(sp.ContinuityItem())

	q := `SELECT seq, at FROM (SELECT seq, at FROM changes ORDER BY seq DESC LIMIT ?) ORDER BY seq`
	args := []any{contextd.ChangeTail}
	if full {
		q, args = `SELECT seq, at FROM changes ORDER BY seq`, nil
	}
	var order contextd.ChangeOrder
	if err := eachRow(ctx, c, q, args, func(r *sql.Rows) error {
		var seq, at int64
		if err := r.Scan(&seq, &at); err != nil {
			return err
		}
		order.Add(seq, fromNanos(at))
		return nil
	}); err != nil {
		return err
	}
	add(contextd.TailItem(order.Item("change log order"), full))

	agree := contextd.NewChangeAgreement(sp)
	if full {
		err = agreeAll(ctx, c, agree)
	} else {
		err = agreeTail(ctx, c, agree)
	}
	if err != nil {
		return err
	}
	add(contextd.TailItem(agree.Item("change log vs rows"), full))
	return nil
}

// agreeAll compares every row with its object's newest change, and every
// object's newest change with its row.
func agreeAll(ctx context.Context, c *conn, agree *contextd.ChangeAgreement) error {
	for _, t := range loggedTables {
		// Of the state, only the fields compared (a 10th of its size).
		q := `SELECT r.tenant, r.id, r.version, r.stamp, ` + prefixed("ch.", strings.TrimSuffix(changeCols, ", state")) + `,
			json_object('version', json_extract(ch.state, '$.version'), 'createdAt', json_extract(ch.state, '$.createdAt'),
				'updatedAt', json_extract(ch.state, '$.updatedAt'), 'lastActiveAt', json_extract(ch.state, '$.lastActiveAt'))
			FROM (` + t.rows + `) r
			LEFT JOIN changes ch ON ch.seq = (SELECT max(x.seq) FROM changes x WHERE x.tenant = r.tenant AND x.kind = ? AND x.id = r.id)`
		if err := eachRow(ctx, c, q, []any{t.kind}, func(r *sql.Rows) error {
			o := contextd.LoggedObject{Kind: t.kind}
			var (
				stamp int64
				ch    nullChange
			)
			if err := r.Scan(append([]any{&o.Tenant, &o.ID, &o.Version, &stamp}, ch.dest()...)...); err != nil {
				return err
			}
			o.Stamp, o.Newest = fromNanos(stamp), ch.change()
			agree.Live(o)
			return nil
		}); err != nil {
			return err
		}
	}
	// The newest change of every object (the GROUP BY walks changes_object;
	// SQLite takes the bare columns from the row of max(seq)) whose row is gone.
	q := `SELECT ` + changeCols + ` FROM (SELECT max(seq) AS top FROM changes GROUP BY tenant, kind, id) JOIN changes ON seq = top
		WHERE op != 'delete' AND NOT ` + rowExists("changes")
	return eachRow(ctx, c, q, nil, func(r *sql.Rows) error {
		ch, err := scanChange(r)
		if err != nil {
			return err
		}
		agree.Orphan(ch)
		return nil
	})
}

// rowExists is the SQL condition that the object of a change row of table
// alias ch has its row.
func rowExists(ch string) string {
	return `(CASE ` + ch + `.kind
		WHEN 'context' THEN EXISTS (SELECT 1 FROM contexts t WHERE t.tenant = ` + ch + `.tenant AND t.id = ` + ch + `.id)
		WHEN 'memory' THEN EXISTS (SELECT 1 FROM memories t WHERE t.tenant = ` + ch + `.tenant AND t.id = ` + ch + `.id)
		WHEN 'session' THEN EXISTS (SELECT 1 FROM sessions t WHERE t.tenant = ` + ch + `.tenant AND t.id = ` + ch + `.id)
		WHEN 'relationship' THEN EXISTS (SELECT 1 FROM relationships t WHERE t.tenant = ` + ch + `.tenant AND t.id = ` + ch + `.id)
		ELSE 1 END)`
}

// agreeTail compares the objects of the newest changes with their rows: an
// object changed in the tail has its newest change there.
func agreeTail(ctx context.Context, c *conn, agree *contextd.ChangeAgreement) error {
	type key struct{ tenant, kind, id string }
	newest := map[key]*contextd.Change{}
	var order []key
	q := `SELECT ` + changeCols + ` FROM changes ORDER BY seq DESC LIMIT ?`
	if err := eachRow(ctx, c, q, []any{contextd.ChangeTail}, func(r *sql.Rows) error {
		ch, err := scanChange(r)
		if err != nil {
			return err
		}
		k := key{ch.Tenant, ch.Kind, ch.ID}
		if newest[k] == nil {
			newest[k] = ch
			order = append(order, k)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range order {
		ch := newest[k]
		rows := ""
		for _, t := range loggedTables {
			if t.kind == k.kind {
				rows = t.rows
			}
		}
		if rows == "" {
			continue
		}
		o := contextd.LoggedObject{Kind: k.kind, Tenant: k.tenant, ID: k.id, Newest: ch}
		var stamp int64
		err := c.QueryRowContext(ctx, `SELECT version, stamp FROM (`+rows+`) WHERE tenant = ? AND id = ?`, k.tenant, k.id).
			Scan(&o.Version, &stamp)
		if errors.Is(err, sql.ErrNoRows) {
			agree.Orphan(ch)
			continue
		} else if err != nil {
			return err
		}
		o.Stamp = fromNanos(stamp)
		agree.Live(o)
	}
	return nil
}

// nullChange scans the columns of a change that a LEFT JOIN may leave NULL.
type nullChange struct {
	seq, at, version                               sql.NullInt64
	tenant, principal, op, kind, id, userID, state sql.NullString
}

func (n *nullChange) dest() []any {
	return []any{&n.seq, &n.at, &n.tenant, &n.principal, &n.op, &n.kind, &n.id, &n.userID, &n.version, &n.state}
}

// change is the scanned change, or nil when the join found none.
func (n *nullChange) change() *contextd.Change {
	if !n.seq.Valid {
		return nil
	}
	ch := &contextd.Change{Seq: n.seq.Int64, At: fromNanos(n.at.Int64), Tenant: n.tenant.String, Principal: n.principal.String,
		Op: n.op.String, Kind: n.kind.String, ID: n.id.String, UserID: n.userID.String, Version: n.version.Int64,
		State: []byte("null")}
	if n.state.Valid {
		ch.State = []byte(n.state.String)
	}
	return ch
}

// vectorTables are the tables whose rows have vectors, by vector kind.
var vectorTables = []struct{ kind, table string }{
	{contextd.VectorContext, "contexts"},
	{contextd.VectorMemory, "memories"},
}

// checkVectors adds an item per vector kind: every row created since the
// kind's vector epoch has a vector, of the configured model and length; no
// vector without its row. One pass over the rows and one over the vectors.
func checkVectors(ctx context.Context, c *conn, opts contextd.CheckOptions, add func(contextd.CheckItem)) error {
	for _, vt := range vectorTables {
		v := contextd.VectorCounts{Kind: vt.kind, Model: opts.VectorModel, Dims: opts.VectorDims}
		since := int64(1<<63 - 1)
		err := c.QueryRowContext(ctx, `SELECT since FROM vector_epochs WHERE kind = ?`, vt.kind).Scan(&since)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		join := ` FROM ` + vt.table + ` t LEFT JOIN vectors v ON v.kind = '` + vt.kind + `' AND v.row_pk = t.pk`
		// A row without a vector was written with an embedder when it was
		// created since the epoch, by a create the log still holds, and not
		// put back by a restore or an import since (those keep no vectors).
		// Without its create in the log it only counts as unembedded: no
		// false alarm once retention prunes the log. Vector kinds are
		// change kinds.
		logged := `SELECT 1 FROM changes x WHERE x.tenant = t.tenant AND x.kind = '` + vt.kind + `' AND x.id = t.id AND x.op = `
		missing := `v.model IS NULL AND t.created_at >= ?2 AND EXISTS (` + logged + `'create') AND NOT EXISTS (` + logged + `'restore')`
		var noVector int64
		if err := c.QueryRowContext(ctx, `SELECT count(*),
				coalesce(sum(v.model = ?1), 0),
				coalesce(sum(v.model IS NOT NULL AND v.model != ?1), 0),
				coalesce(sum(v.model IS NULL), 0),
				coalesce(sum(`+missing+`), 0)`+join, opts.VectorModel, since).
			Scan(&v.Rows, &v.Current, &v.Stale, &noVector, &v.Missing); err != nil {
			return err
		}
		v.Unembedded = noVector - v.Missing
		// One pass over the kind's vectors: orphans, and lengths when known.
		bytes := 0
		if opts.VectorModel != "" && opts.VectorDims > 0 {
			bytes = 4 + opts.VectorDims // contextd.EncodeVector: a float32 scale, then one byte per dimension
		}
		if err := c.QueryRowContext(ctx, `SELECT
				coalesce(sum(v.model = '' OR NOT EXISTS (SELECT 1 FROM `+vt.table+` t WHERE t.pk = v.row_pk)), 0),
				coalesce(sum(?2 > 0 AND v.model = ?1 AND length(v.vec) != ?2), 0)
			FROM vectors v WHERE v.kind = '`+vt.kind+`'`, opts.VectorModel, bytes).Scan(&v.Orphans, &v.WrongDims); err != nil {
			return err
		}
		if v.Orphans > 0 {
			if err := examples(ctx, c, &v, `SELECT 'vector of row pk ' || v.row_pk FROM vectors v WHERE v.kind = ? AND (v.model = ''
				OR NOT EXISTS (SELECT 1 FROM `+vt.table+` t WHERE t.pk = v.row_pk))`, vt.kind); err != nil {
				return err
			}
		}
		if opts.VectorModel != "" && v.Missing > 0 {
			if err := examples(ctx, c, &v, `SELECT t.tenant || '/' || t.id || ' has no vector'`+join+
				` WHERE `+missing, opts.VectorModel, since); err != nil {
				return err
			}
		}
		if v.WrongDims > 0 {
			if err := examples(ctx, c, &v, `SELECT t.tenant || '/' || t.id || ' has ' || (length(v.vec) - 4) || ' dimensions'`+join+
				` WHERE v.model = ? AND length(v.vec) != ?`, opts.VectorModel, bytes); err != nil {
				return err
			}
		}
		if opts.VectorModel != "" && bytes == 0 {
			if err := eachRow(ctx, c, `SELECT DISTINCT length(vec) - 4 FROM vectors WHERE kind = ? AND model = ? LIMIT 10`,
				[]any{vt.kind, opts.VectorModel}, func(r *sql.Rows) error {
					var n int
					err := r.Scan(&n)
					v.Lengths = append(v.Lengths, n)
					return err
				}); err != nil {
				return err
			}
		}
		add(v.Item())
	}
	return nil
}

// examples adds the first few answers of q to v.Examples.
func examples(ctx context.Context, c *conn, v *contextd.VectorCounts, q string, args ...any) error {
	return eachRow(ctx, c, q+` LIMIT 3`, args, func(r *sql.Rows) error {
		var s string
		err := r.Scan(&s)
		v.Examples = append(v.Examples, s)
		return err
	})
}

// eachRow runs q and calls fn for every row.
func eachRow(ctx context.Context, c *conn, q string, args []any, fn func(*sql.Rows) error) error {
	rows, err := c.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// prefixed qualifies each column of a comma-separated list with p.
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, col := range parts {
		parts[i] = p + strings.TrimSpace(col)
	}
	return strings.Join(parts, ", ")
}
