package neo4j

import (
	"context"

	"github.com/contextd/contextd"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// The audit trail is (:Audit) nodes of the namespace, uk = namespace/tenant/id
// unique. contextd only ever CREATEs them.

// AppendAudit implements contextd.AuditStore.
func (s *Store) AppendAudit(ctx context.Context, e *contextd.AuditEvent) error {
	detail, err := contextd.StorableAudit(e)
	if err != nil {
		return err
	}
	return s.write(ctx, "append audit", func(tx neo4j.ManagedTransaction) error {
		row, err := single(ctx, tx, `OPTIONAL MATCH (a:Audit {uk: $uk}) RETURN count(a) AS n`, params{"uk": s.nsKey(e.Tenant + "/" + e.ID)})
		if err != nil {
			return err
		}
		if i64(row["n"]) > 0 {
			return contextd.AuditExists(e.ID)
		}
		return exec(ctx, tx, `CREATE (:Audit {uk: $uk, ns: $ns, tenant: $tenant, id: $id, at: $at, action: $action,
			principal: $principal, target: $target, detail: $detail})`,
			params{"uk": s.nsKey(e.Tenant + "/" + e.ID), "ns": s.ns, "tenant": e.Tenant, "id": e.ID, "at": nanos(e.At.UTC()),
				"action": e.Action, "principal": e.Principal, "target": e.Target, "detail": detail})
	})
}

// FindAudit implements contextd.AuditStore.
func (s *Store) FindAudit(ctx context.Context, tenant string, f contextd.AuditFilter) ([]*contextd.AuditEvent, string, error) {
	limit := f.StoreLimit()
	cond := ""
	if f.Cursor != "" {
		cond = " AND a.id < $cursor"
	}
	out := []*contextd.AuditEvent{}
	err := s.read(ctx, "find audit", func(tx neo4j.ManagedTransaction) error {
		out = out[:0]
		rows, err := collect(ctx, tx, `MATCH (a:Audit) WHERE a.ns = $ns AND a.tenant = $tenant`+cond+`
			RETURN a {.id, .at, .action, .principal, .target, .detail} AS a ORDER BY a.id DESC LIMIT $lim`,
			params{"ns": s.ns, "tenant": tenant, "cursor": f.Cursor, "lim": int64(limit + 1)})
		if err != nil {
			return err
		}
		for _, r := range rows {
			m, _ := r["a"].(map[string]any)
			e := &contextd.AuditEvent{ID: str(m["id"]), Tenant: tenant, At: fromNanos(i64(m["at"])), Action: str(m["action"]),
				Principal: str(m["principal"]), Target: str(m["target"])}
			if err := contextd.DecodeAuditDetail(e, str(m["detail"])); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	out, next := contextd.CutPage(out, limit, contextd.AuditIDCursor)
	return out, next, nil
}
