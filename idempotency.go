package contextd

import (
	"context"
	"time"
)

// IdempotencyTTL is how long the first answer to a request made with an
// Idempotency-Key is kept and replayed.
const IdempotencyTTL = 24 * time.Hour

// IdempotencyRecord is the first answer to a POST made with an
// Idempotency-Key, per tenant and credential.
type IdempotencyRecord struct {
	Tenant      string
	Credential  string // who sent it (the rate-limit key of the credential)
	Key         string // the Idempotency-Key header
	RequestHash string // hex SHA-256 of method, path and body: the same key with another request is refused
	Status      int    // the answer's status; 0 while the first request runs
	Header      map[string]string
	Body        []byte
	CreatedAt   time.Time
}

// IdempotencyStore keeps idempotency records durably, so that a retry after
// a crash or a restart still gets the first answer.
type IdempotencyStore interface {
	// ReserveIdempotency stores r as running (Status 0) unless a record of
	// (tenant, credential, key) created after notBefore exists; that record is
	// returned instead (nil when r was stored). Older records are replaced
	// and may be purged.
	ReserveIdempotency(ctx context.Context, r *IdempotencyRecord, notBefore time.Time) (*IdempotencyRecord, error)
	// CompleteIdempotency stores the answer of a reserved record.
	CompleteIdempotency(ctx context.Context, r *IdempotencyRecord) error
	// ReleaseIdempotency removes a reservation whose request ended without an
	// answer worth replaying (a 5xx), so that a retry runs again.
	ReleaseIdempotency(ctx context.Context, tenant, credential, key string) error
}
