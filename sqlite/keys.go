package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/contextd/contextd"
)

const keyCols = `id, tenant, role, name, user_id, prefix, created_at, expires_at, revoked_at, scopes, last_used_at`

func scanKey(row scanner) (*contextd.APIKey, error) {
	var (
		k                contextd.APIKey
		role             string
		created          int64
		expires, revoked sql.NullInt64
		scopes           string
		used             sql.NullInt64
	)
	if err := row.Scan(&k.ID, &k.Tenant, &role, &k.Name, &k.UserID, &k.Prefix, &created, &expires, &revoked, &scopes, &used); err != nil {
		return nil, err
	}
	k.Scopes = contextd.SplitPermissions(scopes)
	k.LastUsedAt = fromNullNanos(used)
	k.Role = contextd.Role(role)
	k.CreatedAt = fromNanos(created)
	k.ExpiresAt, k.RevokedAt = fromNullNanos(expires), fromNullNanos(revoked)
	return &k, nil
}

// CreateAPIKey implements contextd.KeyStore.
func (s *Store) CreateAPIKey(ctx context.Context, k *contextd.APIKey, hash string) error {
	switch {
	case k == nil:
		return contextd.Errorf(contextd.EINVALID, "no key")
	case !contextd.ValidTenant(k.Tenant):
		return contextd.Invalid("tenant", "must be 1..128 characters of letters, digits and _.@:~-")
	case !k.Role.Valid():
		return contextd.Invalid("role", "must be reader, writer or admin")
	case hash == "":
		return contextd.Errorf(contextd.EINVALID, "a key needs the hash of its secret")
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = s.clock()
	}
	if k.ID == "" {
		k.ID = contextd.NewID(k.CreatedAt)
	}
	return s.write(ctx, "create api key", func(tx *conn) error {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO tenants (name, created_at) VALUES (?, ?)`,
			k.Tenant, nanos(k.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (id, tenant, hash, role, name, user_id, prefix, created_at, expires_at, revoked_at, scopes)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, k.ID, k.Tenant, hash, string(k.Role), k.Name, k.UserID, k.Prefix,
			nanos(k.CreatedAt), nullNanos(k.ExpiresAt), nullNanos(k.RevokedAt), contextd.JoinPermissions(k.Scopes, " "))
		if isUnique(err) {
			return contextd.Errorf(contextd.ECONFLICT, "an API key with that id or hash already exists")
		}
		if err != nil {
			return err
		}
		return bumpKeyGeneration(ctx, tx)
	})
}

// APIKeyByHash implements contextd.KeyStore.
func (s *Store) APIKeyByHash(ctx context.Context, hash string) (*contextd.APIKey, error) {
	var k *contextd.APIKey
	err := s.read(ctx, "api key by hash", func(c *conn) error {
		var err error
		k, err = scanKey(c.QueryRowContext(ctx, `SELECT `+keyCols+` FROM api_keys WHERE hash = ?`, hash))
		if errors.Is(err, sql.ErrNoRows) {
			return contextd.Errorf(contextd.ENOTFOUND, "API key not found")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// FindAPIKeys implements contextd.KeyStore.
func (s *Store) FindAPIKeys(ctx context.Context, tenant string) ([]*contextd.APIKey, error) {
	query, args := `SELECT `+keyCols+` FROM api_keys ORDER BY created_at DESC, id DESC`, []any{}
	if tenant != "" {
		query, args = `SELECT `+keyCols+` FROM api_keys WHERE tenant = ? ORDER BY created_at DESC, id DESC`, []any{tenant}
	}
	out := []*contextd.APIKey{}
	err := s.read(ctx, "find api keys", func(c *conn) error {
		rows, err := c.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			k, err := scanKey(rows)
			if err != nil {
				return err
			}
			out = append(out, k)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RevokeAPIKey implements contextd.KeyStore. A key revoked before keeps its
// first revocation time.
func (s *Store) RevokeAPIKey(ctx context.Context, tenant, id string, at time.Time) error {
	return s.write(ctx, "revoke api key", func(tx *conn) error {
		query, args := `UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`, []any{nanos(at.UTC()), id}
		if tenant != "" {
			query += ` AND tenant = ?`
			args = append(args, tenant)
		}
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return notFound("API key", id)
		}
		return bumpKeyGeneration(ctx, tx)
	})
}

// CountAPIKeys implements contextd.KeyStore.
func (s *Store) CountAPIKeys(ctx context.Context) (int, error) {
	var n int
	err := s.read(ctx, "count api keys", func(c *conn) error {
		return c.QueryRowContext(ctx, `SELECT count(*) FROM api_keys`).Scan(&n)
	})
	return n, err
}

// bumpKeyGeneration moves the key generation in the transaction of a key change.
func bumpKeyGeneration(ctx context.Context, tx *conn) error {
	_, err := tx.ExecContext(ctx, `UPDATE key_generation SET gen = gen + 1 WHERE id = 1`)
	return err
}

// APIKeyGeneration implements contextd.KeyStore: one prepared point read in
// autocommit mode (no BEGIN/ROLLBACK around it: a single statement is its
// own consistent snapshot).
//
// While nothing has been committed since the last read, the generation
// comes from memory (see keyGenCache).
func (s *Store) APIKeyGeneration(ctx context.Context) (int64, error) {
	cached, ok, stamp, stampOK := s.keyGen.get()
	if ok {
		select {
		case <-s.closed:
			return 0, s.fail(ctx, "key generation", errClosed)
		default:
		}
		return cached, nil
	}
	c, err := s.readers.take(ctx, s.closed)
	if err != nil {
		return 0, s.fail(ctx, "key generation", err)
	}
	defer s.readers.put(c)
	c.detached = true // a point read: see readPoint
	defer func() { c.detached = false }()
	var gen int64
	if err := c.QueryRowContext(ctx, `SELECT gen FROM key_generation WHERE id = 1`).Scan(&gen); err != nil {
		return 0, s.fail(ctx, "key generation", err)
	}
	if stampOK {
		s.keyGen.put(stamp, gen)
	}
	return gen, nil
}

// TouchAPIKey implements contextd.KeyStore. It never moves lastUsedAt back
// and does not change the key generation (use is not a property the
// authenticator caches).
func (s *Store) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	return s.write(ctx, "touch api key", func(tx *conn) error {
		_, err := tx.ExecContext(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`,
			nanos(at.UTC()), id, nanos(at.UTC()))
		return err
	})
}
