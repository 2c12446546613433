package sqlite

import (
	"context"

	"github.com/contextd/contextd"
)

// AppendAudit implements contextd.AuditStore.
func (s *Store) AppendAudit(ctx context.Context, e *contextd.AuditEvent) error {
	detail, err := contextd.StorableAudit(e)
	if err != nil {
		return err
	}
	return s.write(ctx, "append audit", func(tx *conn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (tenant, id, at, action, principal, target, detail)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, e.Tenant, e.ID, nanos(e.At.UTC()), e.Action, e.Principal, e.Target, detail)
		if isUnique(err) {
			return contextd.AuditExists(e.ID)
		}
		return err
	})
}

// FindAudit implements contextd.AuditStore.
func (s *Store) FindAudit(ctx context.Context, tenant string, f contextd.AuditFilter) ([]*contextd.AuditEvent, string, error) {
	limit := f.StoreLimit()
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
			if err := contextd.DecodeAuditDetail(e, detail); err != nil {
				return err
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, "", err
	}
	out, next := contextd.CutPage(out, limit, contextd.AuditIDCursor)
	return out, next, nil
}
