package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/contextd/contextd"
)

// ReserveIdempotency implements contextd.IdempotencyStore. It also purges a
// few expired records, so the table stays bounded without a sweeper.
func (s *Store) ReserveIdempotency(ctx context.Context, r *contextd.IdempotencyRecord, notBefore time.Time) (*contextd.IdempotencyRecord, error) {
	var existing *contextd.IdempotencyRecord
	err := s.write(ctx, "reserve idempotency key", func(tx *conn) error {
		existing = nil
		var (
			e       = contextd.IdempotencyRecord{Tenant: r.Tenant, Credential: r.Credential, Key: r.Key}
			header  string
			created int64
		)
		err := tx.QueryRowContext(ctx, `SELECT request_hash, status, header, body, created_at FROM idempotency
			WHERE tenant = ? AND credential = ? AND key = ?`, r.Tenant, r.Credential, r.Key).
			Scan(&e.RequestHash, &e.Status, &header, &e.Body, &created)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case created >= nanos(notBefore):
			e.CreatedAt = fromNanos(created)
			if err := json.Unmarshal([]byte(header), &e.Header); err != nil {
				return err
			}
			existing = &e
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM idempotency WHERE (tenant, credential, key) IN
			(SELECT tenant, credential, key FROM idempotency WHERE created_at < ? LIMIT 100)`, nanos(notBefore)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO idempotency (tenant, credential, key, request_hash, status, header, body, created_at)
			VALUES (?, ?, ?, ?, 0, '{}', NULL, ?)`, r.Tenant, r.Credential, r.Key, r.RequestHash, nanos(r.CreatedAt.UTC()))
		return err
	})
	if err != nil {
		return nil, err
	}
	return existing, nil
}

// CompleteIdempotency implements contextd.IdempotencyStore.
func (s *Store) CompleteIdempotency(ctx context.Context, r *contextd.IdempotencyRecord) error {
	header, err := jsonText(r.Header)
	if err != nil {
		return err
	}
	return s.write(ctx, "complete idempotency key", func(tx *conn) error {
		_, err := tx.ExecContext(ctx, `UPDATE idempotency SET status = ?, header = ?, body = ? WHERE tenant = ? AND credential = ? AND key = ?`,
			r.Status, header, r.Body, r.Tenant, r.Credential, r.Key)
		return err
	})
}

// ReleaseIdempotency implements contextd.IdempotencyStore.
func (s *Store) ReleaseIdempotency(ctx context.Context, tenant, credential, key string) error {
	return s.write(ctx, "release idempotency key", func(tx *conn) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM idempotency WHERE tenant = ? AND credential = ? AND key = ? AND status = 0`,
			tenant, credential, key)
		return err
	})
}
