package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"github.com/contextd/contextd"
)

var (
	_ contextd.Exporter = (*Store)(nil)
	_ contextd.Importer = (*Store)(nil)
)

// exportPage is how many rows one read transaction of Export takes.
const exportPage = 1000

// Export implements contextd.Exporter. Its pages go by rowid (NOT INDEXED:
// without it the planner takes the tenant's index and sorts the whole
// tenant for every page, a quadratic export). Each page of rows is read in its own
// read transaction and handed to fn outside it, so a slow fn (writing to
// another store) holds no snapshot; run it on a store nobody writes to.
func (s *Store) Export(ctx context.Context, fn func(*contextd.Record) error) error {
	// API keys, by rowid.
	err := s.exportTable(ctx, "export api keys", `SELECT rowid, `+keyCols+`, hash FROM api_keys WHERE rowid > ? ORDER BY rowid LIMIT ?`, nil,
		func(rows *sql.Rows) (*contextd.Record, int64, error) {
			var (
				rowid int64
				hash  string
			)
			k, err := scanKey(prefixScanner{rows, []any{&rowid}, []any{&hash}})
			if err != nil {
				return nil, 0, err
			}
			return &contextd.Record{Kind: contextd.KindAPIKey, Tenant: k.Tenant, APIKey: k, KeyHash: hash}, rowid, nil
		}, fn)
	if err != nil {
		return err
	}
	var tenants []string
	err = s.read(ctx, "export tenants", func(c *conn) error {
		rows, err := c.QueryContext(ctx, `SELECT tenant FROM contexts UNION SELECT tenant FROM sessions
			UNION SELECT tenant FROM memories UNION SELECT tenant FROM relationships ORDER BY 1`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t string
			if err := rows.Scan(&t); err != nil {
				return err
			}
			tenants = append(tenants, t)
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	for _, t := range tenants {
		args := []any{t}
		err := s.exportTable(ctx, "export sessions", `SELECT s.pk, s.id, s.user_id, s.title, s.metadata, s.created_at, s.updated_at,
			s.last_active_at, 0, 0 FROM sessions s NOT INDEXED WHERE s.tenant = ? AND s.pk > ? ORDER BY s.pk LIMIT ?`, args,
			func(rows *sql.Rows) (*contextd.Record, int64, error) {
				var pk int64
				ss, err := scanSession(prefixScanner{rows, []any{&pk}, nil})
				if err != nil {
					return nil, 0, err
				}
				return &contextd.Record{Kind: contextd.KindSession, Tenant: t, Session: ss}, pk, nil
			}, fn)
		if err != nil {
			return err
		}
		err = s.exportTable(ctx, "export contexts", `SELECT `+contextCols+` FROM contexts c NOT INDEXED WHERE c.tenant = ? AND c.pk > ? ORDER BY c.pk LIMIT ?`, args,
			func(rows *sql.Rows) (*contextd.Record, int64, error) {
				c, pk, err := scanContext(rows)
				if err != nil {
					return nil, 0, err
				}
				c.Relationships = nil
				return &contextd.Record{Kind: contextd.KindContext, Tenant: t, Context: c}, pk, nil
			}, fn)
		if err != nil {
			return err
		}
		err = s.exportTable(ctx, "export relationships", `SELECT r.pk, `+relCols+` FROM relationships r NOT INDEXED WHERE r.tenant = ? AND r.pk > ? ORDER BY r.pk LIMIT ?`, args,
			func(rows *sql.Rows) (*contextd.Record, int64, error) {
				var pk int64
				r, err := scanRelationship(prefixScanner{rows, []any{&pk}, nil})
				if err != nil {
					return nil, 0, err
				}
				return &contextd.Record{Kind: contextd.KindRelationship, Tenant: t, Relationship: r}, pk, nil
			}, fn)
		if err != nil {
			return err
		}
		err = s.exportTable(ctx, "export memories", `SELECT `+memoryCols+` FROM memories m NOT INDEXED WHERE m.tenant = ? AND m.pk > ? ORDER BY m.pk LIMIT ?`, args,
			func(rows *sql.Rows) (*contextd.Record, int64, error) {
				m, pk, err := scanMemory(rows)
				if err != nil {
					return nil, 0, err
				}
				return &contextd.Record{Kind: contextd.KindMemory, Tenant: t, Memory: m}, pk, nil
			}, fn)
		if err != nil {
			return err
		}
	}
	return nil
}

// exportTable pages through query (whose last two parameters are the
// position after which to start and the page size) and calls fn for each
// record scan makes.
func (s *Store) exportTable(ctx context.Context, op, query string, args []any,
	scan func(*sql.Rows) (*contextd.Record, int64, error), fn func(*contextd.Record) error) error {
	var after int64
	for {
		var page []*contextd.Record
		err := s.read(ctx, op, func(c *conn) error {
			page = page[:0]
			rows, err := c.QueryContext(ctx, query, append(append([]any{}, args...), after, exportPage)...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				rec, pos, err := scan(rows)
				if err != nil {
					return err
				}
				page = append(page, rec)
				after = pos
			}
			return rows.Err()
		})
		if err != nil {
			return err
		}
		for _, rec := range page {
			if err := fn(rec); err != nil {
				return err
			}
		}
		if len(page) < exportPage {
			return nil
		}
	}
}

// prefixScanner scans extra columns before and after the ones a scan
// function reads.
type prefixScanner struct {
	rows          *sql.Rows
	before, after []any
}

func (p prefixScanner) Scan(dest ...any) error {
	all := append(append(append([]any{}, p.before...), dest...), p.after...)
	return p.rows.Scan(all...)
}

// Import implements contextd.Importer.
func (s *Store) Import(ctx context.Context, recs []*contextd.Record) error {
	if len(recs) == 0 {
		return nil
	}
	return s.write(ctx, "import", func(tx *conn) error {
		for i, rec := range recs {
			if err := s.importRecord(ctx, tx, rec); err != nil {
				if e, ok := err.(*contextd.Error); ok {
					return &contextd.Error{Code: e.Code, Message: "record " + strconv.Itoa(i) + " (" + rec.Kind + "): " + e.Message, Fields: e.Fields}
				}
				if isUnique(err) {
					return contextd.Errorf(contextd.ECONFLICT, "record %d (%s): already exists", i, rec.Kind)
				}
				return fmt.Errorf("record %d (%s): %w", i, rec.Kind, err)
			}
		}
		return nil
	})
}

func (s *Store) importRecord(ctx context.Context, tx *conn, rec *contextd.Record) error {
	if rec == nil {
		return contextd.Errorf(contextd.EINVALID, "a nil record")
	}
	missing := contextd.Errorf(contextd.EINVALID, "a %s record without its object", rec.Kind)
	switch rec.Kind {
	case contextd.KindAPIKey:
		k := rec.APIKey
		if k == nil || rec.KeyHash == "" {
			return missing
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO tenants (name, created_at) VALUES (?, ?)`, k.Tenant, nanos(k.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (id, tenant, hash, role, name, user_id, prefix, created_at, expires_at, revoked_at, scopes)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, k.ID, k.Tenant, rec.KeyHash, string(k.Role), k.Name, k.UserID, k.Prefix,
			nanos(k.CreatedAt), nullNanos(k.ExpiresAt), nullNanos(k.RevokedAt), contextd.JoinPermissions(k.Scopes, " "))
		if err != nil {
			return err
		}
		return bumpKeyGeneration(ctx, tx)
	case contextd.KindSession:
		ss := rec.Session
		if ss == nil {
			return missing
		}
		meta, err := jsonText(orEmpty(ss.Metadata))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO sessions (tenant, id, user_id, title, metadata, created_at, updated_at, last_active_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, rec.Tenant, ss.ID, ss.UserID, ss.Title, meta, nanos(ss.CreatedAt), nanos(ss.UpdatedAt), nanos(ss.LastActiveAt))
		return err
	case contextd.KindContext:
		c := rec.Context
		if c == nil {
			return missing
		}
		tags := c.Tags
		if tags == nil {
			tags = []string{}
		}
		tagText, err := jsonText(tags)
		if err != nil {
			return err
		}
		meta, err := jsonText(orEmpty(c.Metadata))
		if err != nil {
			return err
		}
		pk, err := newAllocator("contexts", rec.Tenant).newPK(ctx, tx)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO contexts
			(pk, tenant, id, title, content, type, status, user_id, session_id, tags, metadata, created_at, updated_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, pk, rec.Tenant, c.ID, c.Title, c.Content, c.Type, c.Status, c.UserID, c.SessionID,
			tagText, meta, nanos(c.CreatedAt), nanos(c.UpdatedAt), c.Version)
		if err != nil {
			return err
		}
		if err := indexContext(ctx, tx, pk, c.Title, c.Content); err != nil {
			return err
		}
		return writeContextTags(ctx, tx, rec.Tenant, pk, tags, c.CreatedAt)
	case contextd.KindRelationship:
		r := rec.Relationship
		if r == nil {
			return missing
		}
		sc := contextd.Scope{Tenant: rec.Tenant}
		for _, id := range []string{r.SourceID, r.TargetID} {
			if ok, err := contextVisible(ctx, tx, sc, id); err != nil {
				return err
			} else if !ok {
				return notFound("context", id)
			}
		}
		props, err := jsonText(orEmpty(r.Properties))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO relationships (tenant, id, type, source_id, target_id, properties, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, rec.Tenant, r.ID, r.Type, r.SourceID, r.TargetID, props, nanos(r.CreatedAt))
		return err
	case contextd.KindMemory:
		m := rec.Memory
		if m == nil {
			return missing
		}
		tags := m.Tags
		if tags == nil {
			tags = []string{}
		}
		tagText, err := jsonText(tags)
		if err != nil {
			return err
		}
		meta, err := jsonText(orEmpty(m.Metadata))
		if err != nil {
			return err
		}
		pk, err := newAllocator("memories", rec.Tenant).newPK(ctx, tx)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO memories (pk, tenant, id, type, content, importance, importance_rank,
			confidence, tags, timestamp, source, session_id, user_id, metadata, created_at, updated_at, expires_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, pk, rec.Tenant, m.ID, m.Type, m.Content, m.Importance,
			contextd.ImportanceRank(m.Importance), m.Confidence, tagText, nanos(m.Timestamp), m.Source, m.SessionID, m.UserID, meta,
			nanos(m.CreatedAt), nanos(m.UpdatedAt), nullNanos(m.ExpiresAt), m.Version)
		if err != nil {
			return err
		}
		if err := indexMemory(ctx, tx, pk, m.Content); err != nil {
			return err
		}
		return writeMemoryTags(ctx, tx, rec.Tenant, pk, tags, m.CreatedAt)
	}
	return contextd.Errorf(contextd.EINVALID, "unknown record kind %q", rec.Kind)
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
