package mcpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/contextd/contextd"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// NewHTTPHandler serves MCP over Streamable HTTP (mount it at /mcp). It
// expects the gateway's authentication to have put the caller's principal in
// the request context (contextd.WithPrincipal) and answers 401 itself when
// there is none. Each request is served with its own principal, so a revoked
// key stops working at once. The handler is stateless (no Mcp-Session-Id):
// any replica can serve any request. Options.Principal is ignored.
func NewHTTPHandler(svc *contextd.Service, opts Options) http.Handler {
	opts.Principal = nil
	srv := NewServer(svc, opts)
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true, Logger: opts.Logger})
	// The SDK hands a request's auth.TokenInfo to the tool handlers; it only
	// takes it from its bearer-token middleware, so the principal travels
	// through that middleware with a verifier that reads the request context.
	carry := auth.RequireBearerToken(func(ctx context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
		p := contextd.PrincipalFrom(r.Context())
		if p == nil {
			return nil, auth.ErrInvalidToken
		}
		return &auth.TokenInfo{UserID: p.Tenant + "/" + p.KeyID + "/" + p.Subject, Expiration: time.Now().Add(time.Hour),
			Extra: map[string]any{principalKey: p}}, nil
	}, nil)(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if contextd.PrincipalFrom(r.Context()) == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="contextd"`)
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"title":"Unauthorized","status":401,"detail":"credentials required"}` + "\n"))
			return
		}
		r2 := r.Clone(r.Context())
		r2.Header.Set("Authorization", "Bearer principal")
		carry.ServeHTTP(w, r2)
	})
}
