package contextd

import (
	"context"
	"crypto/rand"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// Audit actions. Other packages (backups, restores, imports) add their own
// with Service.Audit; names are "<object>.<verb>".
const (
	AuditKeyCreated    = "key.created"
	AuditKeyRevoked    = "key.revoked"
	AuditTokenIssued   = "token.issued"
	AuditBackupCreated = "backup.created"
	AuditRestored      = "backup.restored"
)

// AuditEvent is one administrative action in the append-only audit trail
// of a tenant. It never holds a secret.
type AuditEvent struct {
	ID        string         `json:"id"`
	Tenant    string         `json:"tenant"`
	At        time.Time      `json:"at"`
	Action    string         `json:"action" doc:"key.created, key.revoked, token.issued, backup.created, backup.restored, ..."`
	Principal string         `json:"principal" doc:"Who: key:<id>, jwt:<subject>, or cli / bootstrap for the command line"`
	Target    string         `json:"target,omitempty" doc:"What the action was on (a key id, a backup id)"`
	Detail    map[string]any `json:"detail,omitempty"`
}

// AuditFilter pages through an audit trail, newest first.
type AuditFilter struct {
	Limit  int    // 1..100; 0 means 20
	Cursor string // the id of the last event of the previous page
}

// AuditStore keeps the audit trail. Events are never changed or removed.
type AuditStore interface {
	// AppendAudit stores e (ID and At already set).
	AppendAudit(ctx context.Context, e *AuditEvent) error
	// FindAudit lists a tenant's events newest first (by id) and the cursor
	// of the next page ("" when there is none). A malformed cursor is EINVALID.
	FindAudit(ctx context.Context, tenant string, f AuditFilter) ([]*AuditEvent, string, error)
}

// AuditPrincipal names p in the audit trail.
func AuditPrincipal(p *Principal) string {
	switch {
	case p == nil:
		return "anonymous"
	case p.KeyID != "" && !p.ViaJWT:
		return "key:" + p.KeyID
	case p.KeyID != "":
		return "jwt:" + p.Subject + " (key:" + p.KeyID + ")"
	}
	return "jwt:" + p.Subject
}

// Audit appends an administrative action of tenant by who (see
// AuditPrincipal) to the trail.
func (s *Service) Audit(ctx context.Context, tenant, who, action, target string, detail map[string]any) error {
	now := s.now()
	return s.Store.AppendAudit(ctx, &AuditEvent{ID: newAuditID(now), Tenant: tenant, At: now, Action: action,
		Principal: who, Target: target, Detail: detail})
}

// FindAudit lists the principal's tenant's audit trail, newest first.
func (s *Service) FindAudit(ctx context.Context, p *Principal, f AuditFilter) ([]*AuditEvent, string, error) {
	if err := p.Need(PermAdminAudit); err != nil {
		return nil, "", err
	}
	if f.Limit == 0 {
		f.Limit = 20
	}
	if f.Limit < 1 || f.Limit > 100 {
		return nil, "", Invalid("query.limit", "must be 1..100")
	}
	if f.Cursor != "" && !ValidID(f.Cursor) {
		return nil, "", Invalid("query.cursor", "is not a cursor of this list")
	}
	return s.Store.FindAudit(ctx, p.Tenant, f)
}

// Audit ids come from an entropy source of their own: ULIDs are monotonic
// within a millisecond only while no id of another time is made between
// two of them (NewID also serves ids of other clocks), and the trail is
// listed in id order.
var (
	auditIDMu      sync.Mutex
	auditIDEntropy = ulid.Monotonic(rand.Reader, 0)
)

func newAuditID(t time.Time) string {
	auditIDMu.Lock()
	defer auditIDMu.Unlock()
	return ulid.MustNew(ulid.Timestamp(t), auditIDEntropy).String()
}
