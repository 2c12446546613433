package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/contextd/contextd"
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
			st.principal = contextd.AuditPrincipal(p)
		}
		next.ServeHTTP(w, r.WithContext(contextd.WithPrincipal(r.Context(), p)))
	})
}

// maxTokenLen bounds a bearer token or API key.
const maxTokenLen = 8 << 10

// principal reads the credentials of r: "Authorization: Bearer <token>" or
// "X-API-Key: <key>". A bearer token of three dot-separated parts is a JWT
// when JWTs are configured (a secret or public keys); anything else is an API key, looked up on
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
	if !apiKeyOnly && s.jwtEnabled() && strings.Count(token, ".") == 2 {
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

// principalOf returns the request's principal; the Service answers 401 for nil.
func principalOf(ctx context.Context) *contextd.Principal { return contextd.PrincipalFrom(ctx) }
