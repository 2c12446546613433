package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/contextd/contextd"
	"github.com/golang-jwt/jwt/v5"
)

// needsCredentials reports whether a path is behind authentication: every
// /v1 route, the MCP endpoint and the detailed health report.
func needsCredentials(path string) bool {
	return strings.HasPrefix(path, "/v1/") || path == "/v1" || path == "/health/details" || path == "/mcp"
}

// authenticate puts the caller's principal into the request context, or
// answers 401. Roles are the Service's business (403).
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !needsCredentials(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		p, err := s.principal(r)
		if err != nil {
			writeProblem(w, problemFor(r.Context(), err))
			return
		}
		if st := stateFrom(r.Context()); st != nil {
			st.tenant = p.Tenant
		}
		next.ServeHTTP(w, r.WithContext(contextd.WithPrincipal(r.Context(), p)))
	})
}

// maxTokenLen bounds a bearer token or API key.
const maxTokenLen = 8 << 10

// principal reads the credentials of r: "Authorization: Bearer <token>" or
// "X-API-Key: <key>". A bearer token of three dot-separated parts is a JWT
// when a JWT secret is configured; anything else is an API key, looked up on
// every request so that a revoked key stops working at once.
func (s *server) principal(r *http.Request) (*contextd.Principal, error) {
	var token string
	apiKeyOnly := false
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		token = strings.TrimSpace(rest)
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			return nil, unauthorized("the Authorization header must be \"Bearer <token>\"", "invalid_request")
		}
	} else if k := r.Header.Get("X-API-Key"); k != "" {
		token, apiKeyOnly = strings.TrimSpace(k), true
	} else {
		return nil, unauthorized("credentials required: send \"Authorization: Bearer <token>\" or \"X-API-Key: <key>\"", "")
	}
	if len(token) > maxTokenLen {
		return nil, unauthorized("invalid credentials", "invalid_token")
	}
	if !apiKeyOnly && len(s.jwtSecret) > 0 && strings.Count(token, ".") == 2 {
		return s.parseJWT(token)
	}
	p, err := s.svc.Authenticate(r.Context(), token)
	if err != nil {
		if contextd.ErrorCode(err) == contextd.EUNAUTHORIZED {
			return nil, unauthorized(contextd.ErrorMessage(err), "invalid_token")
		}
		return nil, err
	}
	return p, nil
}

// unauthorized is a 401 problem with its WWW-Authenticate challenge
// (RFC 6750: no error code when no credentials were sent).
func unauthorized(detail, code string) *Problem {
	p := newProblem(http.StatusUnauthorized, detail)
	challenge := wwwAuthenticate
	if code != "" {
		challenge += `, error="` + code + `"`
	}
	p.GetHeaders().Set("WWW-Authenticate", challenge)
	return p
}

// tokenClaims are the claims of a contextd JWT.
type tokenClaims struct {
	Tenant string `json:"tenant"`
	Role   string `json:"role"`
	UID    string `json:"uid,omitempty"`
	// Scope narrows the role's permissions: space-separated, as in OAuth 2.
	Scope string `json:"scope,omitempty"`
	jwt.RegisteredClaims
}

// parseJWT checks an HS256 token signed with the configured secret and turns
// its claims into a principal. Other algorithms (none included) are refused;
// exp is required.
func (s *server) parseJWT(token string) (*contextd.Principal, error) {
	var c tokenClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return s.jwtSecret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(s.now),
	)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, unauthorized("the token has expired", "invalid_token")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return nil, unauthorized("the token has no exp claim", "invalid_token")
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
	return &contextd.Principal{Tenant: c.Tenant, Role: role, UID: c.UID, Subject: subject, Scopes: scopes}, nil
}

// principalOf returns the request's principal; the Service answers 401 for nil.
func principalOf(ctx context.Context) *contextd.Principal { return contextd.PrincipalFrom(ctx) }
