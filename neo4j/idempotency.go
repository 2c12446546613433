package neo4j

import (
	"context"
	"encoding/json"
	"time"

	"github.com/contextd/contextd"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Idempotency records are (:Idempotency {ik}) nodes, ik = namespace/tenant/
// credential/key, unique.

func (s *Store) idemKey(tenant, credential, key string) string {
	return s.nsKey(tenant + "\x00" + credential + "\x00" + key)
}

// ReserveIdempotency implements contextd.IdempotencyStore.
func (s *Store) ReserveIdempotency(ctx context.Context, r *contextd.IdempotencyRecord, notBefore time.Time) (*contextd.IdempotencyRecord, error) {
	var existing *contextd.IdempotencyRecord
	ik := s.idemKey(r.Tenant, r.Credential, r.Key)
	err := s.write(ctx, "reserve idempotency key", func(tx neo4j.ManagedTransaction) error {
		existing = nil
		row, err := single(ctx, tx, `OPTIONAL MATCH (i:Idempotency {ik: $ik}) WHERE i.createdAt >= $nb
			RETURN i {.requestHash, .status, .header, .body, .createdAt} AS i`, params{"ik": ik, "nb": nanos(notBefore)})
		if err != nil {
			return err
		}
		if m, ok := row["i"].(map[string]any); ok && m != nil {
			e := &contextd.IdempotencyRecord{Tenant: r.Tenant, Credential: r.Credential, Key: r.Key,
				RequestHash: str(m["requestHash"]), Status: int(i64(m["status"])), CreatedAt: fromNanos(i64(m["createdAt"]))}
			if b, ok := m["body"].([]byte); ok {
				e.Body = b
			}
			if h := str(m["header"]); h != "" {
				if err := json.Unmarshal([]byte(h), &e.Header); err != nil {
					return err
				}
			}
			existing = e
			return nil
		}
		if err := exec(ctx, tx, `MATCH (i:Idempotency) WHERE i.ns = $ns AND i.createdAt < $nb WITH i LIMIT 100 DELETE i`,
			params{"ns": s.ns, "nb": nanos(notBefore)}); err != nil {
			return err
		}
		return exec(ctx, tx, `MERGE (i:Idempotency {ik: $ik}) SET i.ns = $ns, i.requestHash = $hash, i.status = 0,
			i.header = '{}', i.body = null, i.createdAt = $created`,
			params{"ik": ik, "ns": s.ns, "hash": r.RequestHash, "created": nanos(r.CreatedAt.UTC())})
	})
	if err != nil {
		return nil, err
	}
	return existing, nil
}

// CompleteIdempotency implements contextd.IdempotencyStore.
func (s *Store) CompleteIdempotency(ctx context.Context, r *contextd.IdempotencyRecord) error {
	header, err := json.Marshal(r.Header)
	if err != nil {
		return err
	}
	return s.write(ctx, "complete idempotency key", func(tx neo4j.ManagedTransaction) error {
		return exec(ctx, tx, `MATCH (i:Idempotency {ik: $ik}) SET i.status = $status, i.header = $header, i.body = $body`,
			params{"ik": s.idemKey(r.Tenant, r.Credential, r.Key), "status": int64(r.Status), "header": string(header), "body": r.Body})
	})
}

// ReleaseIdempotency implements contextd.IdempotencyStore.
func (s *Store) ReleaseIdempotency(ctx context.Context, tenant, credential, key string) error {
	return s.write(ctx, "release idempotency key", func(tx neo4j.ManagedTransaction) error {
		return exec(ctx, tx, `MATCH (i:Idempotency {ik: $ik}) WHERE i.status = 0 DELETE i`,
			params{"ik": s.idemKey(tenant, credential, key)})
	})
}
