package neo4j

import (
	"context"
	"fmt"
	"time"

	"github.com/contextd/contextd"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// API keys are (:ApiKey) nodes of the namespace: uk = namespace/id, hk =
// namespace/hash, both unique. Tenants are (:Tenant {sk}) nodes, made with
// their first key.

const keyProj = ` {.id, .tenant, .role, .name, .userId, .prefix, .createdAt, .expiresAt, .revokedAt, .scopes, .lastUsedAt}`

func decodeKey(v any) (*contextd.APIKey, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("api key: unexpected %T", v)
	}
	return &contextd.APIKey{ID: str(m["id"]), Tenant: str(m["tenant"]), Role: contextd.Role(str(m["role"])),
		Name: str(m["name"]), UserID: str(m["userId"]), Prefix: str(m["prefix"]), CreatedAt: fromNanos(i64(m["createdAt"])),
		ExpiresAt: optTime(m["expiresAt"]), RevokedAt: optTime(m["revokedAt"]), Scopes: contextd.SplitPermissions(str(m["scopes"])),
		LastUsedAt: optTime(m["lastUsedAt"])}, nil
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
	return s.write(ctx, "create api key", func(tx neo4j.ManagedTransaction) error {
		row, err := single(ctx, tx, `OPTIONAL MATCH (a:ApiKey {uk: $uk}) WITH count(a) AS ids
			OPTIONAL MATCH (b:ApiKey {hk: $hk}) RETURN ids, count(b) AS hashes`,
			params{"uk": s.nsKey(k.ID), "hk": s.nsKey(hash)})
		if err != nil {
			return err
		}
		if i64(row["ids"]) > 0 || i64(row["hashes"]) > 0 {
			return contextd.Errorf(contextd.ECONFLICT, "an API key with that id or hash already exists")
		}
		if err := s.bumpKeyGeneration(ctx, tx); err != nil {
			return err
		}
		return exec(ctx, tx, `MERGE (t:Tenant {sk: $sk}) ON CREATE SET t.name = $tenant, t.ns = $ns, t.createdAt = $created
			CREATE (a:ApiKey {uk: $uk, hk: $hk, ns: $ns, id: $id, tenant: $tenant, hash: $hash, role: $role, name: $name,
				userId: $uid, prefix: $prefix, createdAt: $created, expiresAt: $expires, revokedAt: $revoked, scopes: $scopes})`,
			params{"sk": s.sk(k.Tenant), "tenant": k.Tenant, "ns": s.ns, "uk": s.nsKey(k.ID), "hk": s.nsKey(hash), "id": k.ID,
				"hash": hash, "role": string(k.Role), "name": k.Name, "uid": k.UserID, "prefix": k.Prefix,
				"created": nanos(k.CreatedAt), "expires": nullNanos(k.ExpiresAt), "revoked": nullNanos(k.RevokedAt),
				"scopes": contextd.JoinPermissions(k.Scopes, " ")})
	})
}

// APIKeyByHash implements contextd.KeyStore.
func (s *Store) APIKeyByHash(ctx context.Context, hash string) (*contextd.APIKey, error) {
	var k *contextd.APIKey
	err := s.read(ctx, "api key by hash", func(tx neo4j.ManagedTransaction) error {
		row, err := single(ctx, tx, `MATCH (a:ApiKey {hk: $hk}) WHERE a.ns = $ns RETURN a`+keyProj+` AS a`,
			params{"hk": s.nsKey(hash), "ns": s.ns})
		if err != nil {
			return err
		}
		if row == nil {
			return contextd.Errorf(contextd.ENOTFOUND, "API key not found")
		}
		k, err = decodeKey(row["a"])
		return err
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// FindAPIKeys implements contextd.KeyStore.
func (s *Store) FindAPIKeys(ctx context.Context, tenant string) ([]*contextd.APIKey, error) {
	cond := ""
	if tenant != "" {
		cond = " AND a.tenant = $tenant"
	}
	out := []*contextd.APIKey{}
	err := s.read(ctx, "find api keys", func(tx neo4j.ManagedTransaction) error {
		out = out[:0]
		rows, err := collect(ctx, tx, `MATCH (a:ApiKey) WHERE a.ns = $ns`+cond+` RETURN a`+keyProj+` AS a
			ORDER BY a.createdAt DESC, a.id DESC`, params{"ns": s.ns, "tenant": tenant})
		if err != nil {
			return err
		}
		for _, r := range rows {
			k, err := decodeKey(r["a"])
			if err != nil {
				return err
			}
			out = append(out, k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RevokeAPIKey implements contextd.KeyStore. A key revoked before keeps its
// first revocation time.
func (s *Store) RevokeAPIKey(ctx context.Context, tenant, id string, at time.Time) error {
	cond := ""
	if tenant != "" {
		cond = " AND a.tenant = $tenant"
	}
	return s.write(ctx, "revoke api key", func(tx neo4j.ManagedTransaction) error {
		row, err := single(ctx, tx, `MATCH (a:ApiKey {uk: $uk}) WHERE a.ns = $ns`+cond+`
			SET a.revokedAt = coalesce(a.revokedAt, $at) RETURN true AS ok`,
			params{"uk": s.nsKey(id), "ns": s.ns, "tenant": tenant, "at": nanos(at.UTC())})
		if err != nil {
			return err
		}
		if row == nil {
			return notFound("API key", id)
		}
		return s.bumpKeyGeneration(ctx, tx)
	})
}

// CountAPIKeys implements contextd.KeyStore.
func (s *Store) CountAPIKeys(ctx context.Context) (int, error) {
	var n int
	err := s.read(ctx, "count api keys", func(tx neo4j.ManagedTransaction) error {
		row, err := single(ctx, tx, `MATCH (a:ApiKey) WHERE a.ns = $ns RETURN count(a) AS n`, params{"ns": s.ns})
		if row != nil {
			n = int(i64(row["n"]))
		}
		return err
	})
	return n, err
}

// bumpKeyGeneration moves the namespace's key generation in the
// transaction of a key change.
func (s *Store) bumpKeyGeneration(ctx context.Context, tx neo4j.ManagedTransaction) error {
	return exec(ctx, tx, `MERGE (g:KeyGeneration {ns: $ns}) ON CREATE SET g.gen = 0 SET g.gen = g.gen + 1`, params{"ns": s.ns})
}

// APIKeyGeneration implements contextd.KeyStore: one indexed node read.
func (s *Store) APIKeyGeneration(ctx context.Context) (int64, error) {
	var gen int64
	err := s.read(ctx, "key generation", func(tx neo4j.ManagedTransaction) error {
		row, err := single(ctx, tx, `MATCH (g:KeyGeneration {ns: $ns}) RETURN g.gen AS gen`, params{"ns": s.ns})
		if row != nil {
			gen = i64(row["gen"])
		}
		return err
	})
	return gen, err
}

// TouchAPIKey implements contextd.KeyStore; lastUsedAt never moves back.
func (s *Store) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	return s.write(ctx, "touch api key", func(tx neo4j.ManagedTransaction) error {
		return exec(ctx, tx, `MATCH (a:ApiKey {uk: $uk}) WHERE a.ns = $ns AND (a.lastUsedAt IS NULL OR a.lastUsedAt < $at)
			SET a.lastUsedAt = $at`, params{"uk": s.nsKey(id), "ns": s.ns, "at": nanos(at.UTC())})
	})
}
