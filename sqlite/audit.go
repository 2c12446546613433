package sqlite

import (
	"context"
	"encoding/json"

	"github.com/contextd/contextd"
)

// AppendAudit implements contextd.AuditStore.
func (s *Store) AppendAudit(ctx context.Context, e *contextd.AuditEvent) error {
	if e == nil || e.ID == "" || !contextd.ValidTenant(e.Tenant) || e.Action == "" {
		return contextd.Errorf(contextd.EINVALID, "an audit event needs an id, a tenant and an action")
	}
	detail, err := jsonText(orEmpty(e.Detail))
	if err != nil {
		return err
	}
	return s.write(ctx, "append audit", func(tx *conn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (tenant, id, at, action, principal, target, detail)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, e.Tenant, e.ID, nanos(e.At.UTC()), e.Action, e.Principal, e.Target, detail)
		if isUnique(err) {
			return contextd.Errorf(contextd.ECONFLICT, "audit event %q exists", e.ID)
		}
		return err
	})
}

// FindAudit implements contextd.AuditStore.
func (s *Store) FindAudit(ctx context.Context, tenant string, f contextd.AuditFilter) ([]*contextd.AuditEvent, string, error) {
	limit := f.Limit
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	query, args := `SELECT id, at, action, principal, target, detail FROM audit_log WHERE tenant = ?`, []any{tenant}
	if f.Cursor != "" {
		query += ` AND id < ?`
		args = append(args, f.Cursor)
	}
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit+1)
	out := []*contextd.AuditEvent{}
	err := s.read(ctx, "find audit", func(c *conn) error {
		out = out[:0]
		rows, err := c.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				e      = &contextd.AuditEvent{Tenant: tenant}
				at     int64
				detail string
			)
			if err := rows.Scan(&e.ID, &at, &e.Action, &e.Principal, &e.Target, &detail); err != nil {
				return err
			}
			e.At = fromNanos(at)
			if detail != "{}" && detail != "" {
				if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
					return err
				}
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}
