package contextd

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// Role is what a credential may do. Roles are ordered: each includes the ones
// before it.
type Role string

// The roles, weakest first.
const (
	RoleReader Role = "reader" // read and search
	RoleWriter Role = "writer" // reader + create, update, delete data
	RoleAdmin  Role = "admin"  // writer + keys and tenant administration
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool { return r == RoleReader || r == RoleWriter || r == RoleAdmin }

func (r Role) rank() int {
	switch r {
	case RoleReader:
		return 1
	case RoleWriter:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Includes reports whether r grants at least what need grants.
func (r Role) Includes(need Role) bool { return r.rank() >= need.rank() && need.rank() > 0 }

// Principal is the authenticated caller of a request.
type Principal struct {
	Tenant  string // the tenant whose data the caller sees; never empty
	Role    Role
	UID     string // when set, the caller sees and writes only data whose userId is UID
	Subject string // the key's name or the token's subject; the default userId when UID is empty
	KeyID   string // the API key's id; for a JWT, the key it was exchanged for, or ""
	ViaJWT  bool   // authenticated by a JWT rather than an API key
	// Scopes narrows the role's permissions to these; nil means all of the
	// role's permissions. Permissions the role does not grant never count.
	Scopes []Permission
}

// Scope returns the data the principal may touch, as given to every Store call.
func (p *Principal) Scope() Scope {
	return Scope{Tenant: p.Tenant, UserID: p.UID, Principal: p.Subject}
}

// Require returns EFORBIDDEN unless the principal's role includes need and,
// for a credential narrowed by scopes, unless it holds every permission of
// need: code that asks for a role rather than a permission fails closed for
// narrowed credentials. Prefer Need with a Permission.
func (p *Principal) Require(need Role) error {
	if p == nil {
		return Errorf(EUNAUTHORIZED, "credentials required")
	}
	if !p.Role.Includes(need) {
		return Errorf(EFORBIDDEN, "this action needs the %s role; the credential has %s", need, p.Role)
	}
	if p.Scopes != nil && !p.Covers(need, nil) {
		return Errorf(EFORBIDDEN, "this action needs every permission of the %s role; the credential is limited to: %s", need, JoinPermissions(p.Scopes, " "))
	}
	return nil
}

// DefaultUserID is the userId given to data the principal creates without one.
func (p *Principal) DefaultUserID() string {
	if p.UID != "" {
		return p.UID
	}
	return p.Subject
}

type principalKey struct{}

// WithPrincipal returns a copy of ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal in ctx, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Scope is the wall around every Store call: the tenant, and optionally the one
// user whose data the caller may see. Stores must apply both to every read,
// count, list, search, traversal and link, and answer ENOTFOUND for data
// outside it, exactly as for missing data.
type Scope struct {
	Tenant string
	UserID string // "" means every user of the tenant
	// Principal names who acts (the credential's subject), for the change
	// log; it filters nothing. "" when unknown (the CLI, tests).
	Principal string
}

// APIKey is a credential's record. The key itself is never stored; only its
// SHA-256 hash is.
type APIKey struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	Role   Role   `json:"role"`
	Name   string `json:"name"`
	UserID string `json:"uid,omitempty"`
	Prefix string `json:"prefix"` // the first characters of the key, to recognise it
	// Scopes narrows the role's permissions; empty means all of them.
	Scopes []Permission `json:"scopes,omitempty"`
	// LastUsedAt is when the key last authenticated a request, to the minute.
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	CreatedAt  time.Time  `json:"createdAt"`
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
}

// Active reports whether the key may authenticate at time now.
func (k *APIKey) Active(now time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}

// APIKeyPrefix starts every key contextd makes.
const APIKeyPrefix = "cxd_"

// NewAPIKeySecret returns a new random API key (32 bytes of entropy) and its hash.
func NewAPIKeySecret() (key, hash string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("contextd: crypto/rand failed: " + err.Error())
	}
	key = APIKeyPrefix + strings.ToLower(base32NoPad.EncodeToString(b[:]))
	return key, HashAPIKey(key)
}

// HashAPIKey returns the stored form of key: hex SHA-256. Keys carry 256 bits of
// entropy, so a fast hash is enough (no password stretching needed).
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// ValidTenant reports whether s is a usable tenant name.
func ValidTenant(s string) bool { return identRe.MatchString(s) }
