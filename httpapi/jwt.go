package httpapi

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"time"

	"github.com/contextd/contextd"
	"github.com/golang-jwt/jwt/v5"
)

// JWT defaults.
const (
	DefaultJWTClockSkew = 30 * time.Second
	DefaultJWTTTL       = 15 * time.Minute
)

// JWTConfig says which JWTs the gateway accepts beyond HS256 with
// Config.JWTSecret, and how it issues its own.
type JWTConfig struct {
	// PublicKeys verify RS256 and ES256 tokens minted by an identity
	// provider, by key id ("" for a key without one). See LoadJWTPublicKeys.
	// nil accepts no asymmetric tokens.
	PublicKeys map[string]crypto.PublicKey
	// Issuer, when set, must be the iss claim of every token (and is the iss
	// of the tokens POST /v1/auth/token issues).
	Issuer string
	// Audience, when set, must be among the aud claim of every token (and is
	// the aud of issued tokens).
	Audience string
	// ClockSkew is how far exp, nbf and iat may be off. 0 means
	// DefaultJWTClockSkew (30 s); negative means none.
	ClockSkew time.Duration
	// TTL is the lifetime of tokens POST /v1/auth/token issues. 0 means
	// DefaultJWTTTL (15 min).
	TTL time.Duration
}

// LoadJWTPublicKeys reads the public keys of an identity provider: a PEM
// file (PKIX "PUBLIC KEY", PKCS#1 "RSA PUBLIC KEY" or a certificate) and/or
// a JWKS file ({"keys":[{"kty":"RSA","n","e"} or {"kty":"EC","crv":"P-256",
// "x","y"}]}). Keys of a JWKS are known by their kid.
func LoadJWTPublicKeys(pemFile, jwksFile string) (map[string]crypto.PublicKey, error) {
	keys := map[string]crypto.PublicKey{}
	if pemFile != "" {
		b, err := os.ReadFile(pemFile)
		if err != nil {
			return nil, err
		}
		k, err := parsePEMPublicKey(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", pemFile, err)
		}
		keys[""] = k
	}
	if jwksFile != "" {
		b, err := os.ReadFile(jwksFile)
		if err != nil {
			return nil, err
		}
		set, err := ParseJWKS(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", jwksFile, err)
		}
		for kid, k := range set {
			if _, dup := keys[kid]; dup {
				return nil, fmt.Errorf("%s: two keys with kid %q", jwksFile, kid)
			}
			keys[kid] = k
		}
	}
	return keys, nil
}

func parsePEMPublicKey(b []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var (
		k   any
		err error
	)
	switch block.Type {
	case "PUBLIC KEY":
		k, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		k, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(block.Bytes); err == nil {
			k = c.PublicKey
		}
	default:
		return nil, fmt.Errorf("PEM block %q is not a public key", block.Type)
	}
	if err != nil {
		return nil, err
	}
	return checkPublicKey(k)
}

// checkPublicKey accepts RSA keys of at least 2048 bits and P-256 keys.
func checkPublicKey(k any) (crypto.PublicKey, error) {
	switch k := k.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("RSA key of %d bits: at least 2048 are needed", k.N.BitLen())
		}
		return k, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("only P-256 EC keys (ES256) are supported")
		}
		return k, nil
	}
	return nil, fmt.Errorf("unsupported public key %T: RSA (RS256) or P-256 (ES256)", k)
}

// ParseJWKS reads a JSON Web Key Set, returning its RSA and P-256 keys by
// kid. Keys meant for encryption ("use":"enc") are skipped.
func ParseJWKS(b []byte) (map[string]crypto.PublicKey, error) {
	var set struct {
		Keys []struct {
			Kty, Kid, Use, Alg, Crv, N, E, X, Y string
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("not a JWKS: %w", err)
	}
	out := map[string]crypto.PublicKey{}
	for i, j := range set.Keys {
		if j.Use == "enc" {
			continue
		}
		var (
			k   any
			err error
		)
		switch j.Kty {
		case "RSA":
			var n, e []byte
			if n, err = base64.RawURLEncoding.DecodeString(j.N); err == nil {
				e, err = base64.RawURLEncoding.DecodeString(j.E)
			}
			if err == nil && (len(e) == 0 || len(e) > 4) {
				err = errors.New("bad exponent")
			}
			if err == nil {
				k = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
			}
		case "EC":
			if j.Crv != "P-256" {
				err = fmt.Errorf("curve %q: only P-256", j.Crv)
				break
			}
			var x, y []byte
			if x, err = base64.RawURLEncoding.DecodeString(j.X); err == nil {
				y, err = base64.RawURLEncoding.DecodeString(j.Y)
			}
			if err == nil {
				pk := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
				if !pk.Curve.IsOnCurve(pk.X, pk.Y) { //nolint:staticcheck // validating untrusted input
					err = errors.New("point not on the curve")
				}
				k = pk
			}
		default:
			err = fmt.Errorf("key type %q: only RSA and EC", j.Kty)
		}
		if err == nil {
			k, err = checkPublicKey(k)
		}
		if err != nil {
			return nil, fmt.Errorf("keys[%d] (kid %q): %w", i, j.Kid, err)
		}
		if _, dup := out[j.Kid]; dup {
			return nil, fmt.Errorf("two keys with kid %q", j.Kid)
		}
		out[j.Kid] = k
	}
	if len(out) == 0 {
		return nil, errors.New("no usable signing key")
	}
	return out, nil
}

// jwtEnabled reports whether bearer tokens may be JWTs.
func (s *server) jwtEnabled() bool { return len(s.jwtSecret) > 0 || len(s.jwt.PublicKeys) > 0 }

// jwtMethods are the algorithms accepted: HS256 with the secret, RS256 and
// ES256 with public keys of their type. Nothing else, "none" least of all.
func (s *server) jwtMethods() []string {
	var out []string
	if len(s.jwtSecret) > 0 {
		out = append(out, jwt.SigningMethodHS256.Alg())
	}
	var rsaKeys, ecKeys bool
	for _, k := range s.jwt.PublicKeys {
		switch k.(type) {
		case *rsa.PublicKey:
			rsaKeys = true
		case *ecdsa.PublicKey:
			ecKeys = true
		}
	}
	if rsaKeys {
		out = append(out, jwt.SigningMethodRS256.Alg())
	}
	if ecKeys {
		out = append(out, jwt.SigningMethodES256.Alg())
	}
	return out
}

// jwtKey picks the verification key of a token: the secret for HS256 (never
// a public key: no algorithm confusion), else the public key named by kid,
// or the only key of the algorithm's type when the token names none.
func (s *server) jwtKey(t *jwt.Token) (any, error) {
	if t.Method == jwt.SigningMethodHS256 {
		if len(s.jwtSecret) == 0 {
			return nil, errors.New("HS256 is not accepted")
		}
		return s.jwtSecret, nil
	}
	fits := func(k crypto.PublicKey) bool {
		switch k.(type) {
		case *rsa.PublicKey:
			return t.Method == jwt.SigningMethodRS256
		case *ecdsa.PublicKey:
			return t.Method == jwt.SigningMethodES256
		}
		return false
	}
	if kid, ok := t.Header["kid"].(string); ok && kid != "" {
		// A named key, or else the one key that has no name (a PEM file).
		if k, ok := s.jwt.PublicKeys[kid]; ok && fits(k) {
			return k, nil
		}
		if k, ok := s.jwt.PublicKeys[""]; ok && fits(k) {
			return k, nil
		}
		return nil, fmt.Errorf("unknown key id %q", kid)
	}
	var found crypto.PublicKey
	for _, k := range s.jwt.PublicKeys {
		if fits(k) {
			if found != nil {
				return nil, errors.New("the token names no key id and several keys fit")
			}
			found = k
		}
	}
	if found == nil {
		return nil, errors.New("no key for the algorithm")
	}
	return found, nil
}

// tokenClaims are the claims of a contextd JWT.
type tokenClaims struct {
	Tenant string `json:"tenant"`
	Role   string `json:"role"`
	UID    string `json:"uid,omitempty"`
	// Scope narrows the role's permissions: space-separated, as in OAuth 2.
	Scope string `json:"scope,omitempty"`
	// Key is the id of the API key a token was exchanged for (POST
	// /v1/auth/token): the token shares that key's rate limit.
	Key string `json:"key,omitempty"`
	jwt.RegisteredClaims
}

// parseJWT checks a token's signature and claims and turns them into a
// principal: an accepted algorithm with its key, exp required, nbf and iat
// honoured within the clock skew, iss and aud when configured.
func (s *server) parseJWT(token string) (*contextd.Principal, error) {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(s.jwtMethods()),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(s.now),
		jwt.WithLeeway(max(s.jwt.ClockSkew, 0)),
	}
	if s.jwt.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(s.jwt.Issuer))
	}
	if s.jwt.Audience != "" {
		opts = append(opts, jwt.WithAudience(s.jwt.Audience))
	}
	var c tokenClaims
	_, err := jwt.ParseWithClaims(token, &c, s.jwtKey, opts...)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, unauthorized("the token has expired", "invalid_token")
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return nil, unauthorized("the token is not valid yet", "invalid_token")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenInvalidAudience):
		return nil, unauthorized("the token was issued by or for someone else (iss/aud)", "invalid_token")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return nil, unauthorized("the token lacks a required claim: exp, and iss/aud when configured", "invalid_token")
	case err != nil:
		return nil, unauthorized("invalid token", "invalid_token")
	}
	role := contextd.Role(c.Role)
	switch {
	case !contextd.ValidTenant(c.Tenant):
		return nil, unauthorized("the token's tenant claim is missing or invalid", "invalid_token")
	case !role.Valid():
		return nil, unauthorized("the token's role claim must be reader, writer or admin", "invalid_token")
	case c.UID != "" && !contextd.ValidTenant(c.UID): // the same rule as a user id
		return nil, unauthorized("the token's uid claim is invalid", "invalid_token")
	}
	scopes, err := contextd.ParsePermissions(c.Scope)
	if err != nil || contextd.CheckPermissions(role, scopes, "scope") != nil {
		return nil, unauthorized("the token's scope claim names a permission its role does not grant", "invalid_token")
	}
	if c.Scope != "" && len(scopes) == 0 {
		return nil, unauthorized("the token's scope claim is empty", "invalid_token")
	}
	subject := c.Subject
	if subject == "" {
		subject = c.UID
	}
	if subject == "" {
		subject = "jwt"
	}
	return &contextd.Principal{Tenant: c.Tenant, Role: role, UID: c.UID, Subject: subject, Scopes: scopes,
		KeyID: c.Key, ViaJWT: true}, nil
}

// tokenOutput is the answer of POST /v1/auth/token.
type tokenOutput struct {
	Body struct {
		Token     string    `json:"token" doc:"An HS256 JWT carrying the key's tenant, role, uid and scopes"`
		ExpiresAt time.Time `json:"expiresAt" doc:"When the token stops working"`
	} `nameHint:"TokenResponse"`
}

// issueToken exchanges the API key of the request for a short-lived JWT
// with the same tenant, role, uid and scopes. A token cannot be exchanged
// for another (its lifetime would grow without bound). The token outlives
// a revocation of its key by at most its TTL.
func (s *server) issueToken(ctx context.Context, _ *struct{}) (*tokenOutput, error) {
	p := principalOf(ctx)
	if p == nil {
		return nil, unauthorized("credentials required", "")
	}
	if p.ViaJWT {
		return nil, newProblem(http.StatusForbidden, "present an API key, not a token, to get a token")
	}
	if len(s.jwtSecret) == 0 {
		return nil, newProblem(http.StatusNotImplemented, "this server issues no tokens: JWT_SECRET is not configured")
	}
	now := s.now().UTC().Truncate(time.Second)
	exp := now.Add(s.jwt.TTL)
	c := tokenClaims{Tenant: p.Tenant, Role: string(p.Role), UID: p.UID, Scope: contextd.JoinPermissions(p.Scopes, " "), Key: p.KeyID,
		RegisteredClaims: jwt.RegisteredClaims{Subject: p.Subject, Issuer: s.jwt.Issuer, IssuedAt: jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp), ID: contextd.NewID(now)}}
	if s.jwt.Audience != "" {
		c.Audience = jwt.ClaimStrings{s.jwt.Audience}
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.jwtSecret)
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	if err := s.svc.Audit(ctx, p.Tenant, contextd.AuditPrincipal(p), contextd.AuditTokenIssued, p.KeyID,
		map[string]any{"jti": c.ID, "expiresAt": exp}); err != nil {
		return nil, problemFor(ctx, err)
	}
	out := &tokenOutput{}
	out.Body.Token, out.Body.ExpiresAt = signed, exp
	return out, nil
}
