package httpapi

import (
	"context"

	"github.com/contextd/contextd"
)

// auditInput are the query parameters of GET /v1/admin/audit.
type auditInput struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Page size"`
	Cursor string `query:"cursor" maxLength:"128" doc:"The nextCursor of the previous page"`
}

// listAudit lists the administrative actions of the caller's tenant, newest first.
func (s *server) listAudit(ctx context.Context, in *auditInput) (*listOutput[*contextd.AuditEvent], error) {
	items, next, err := s.svc.FindAudit(ctx, principalOf(ctx), contextd.AuditFilter{Limit: in.Limit, Cursor: in.Cursor})
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	return &listOutput[*contextd.AuditEvent]{Body: newList(items, next)}, nil
}
