package httpapi

import (
	"net/http"
	"time"

	"github.com/contextd/contextd"
	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// permissionKey is the operation metadata key holding a route's permission.
const permissionKey = "contextd.permission"

// anyCredential is the permission of a route open to every credential.
const anyCredential contextd.Permission = ""

// scopesOf is the scope list of a security requirement in the OpenAPI document.
func scopesOf(p contextd.Permission) []string {
	if p == anyCredential {
		return []string{}
	}
	return []string{string(p)}
}

// checkPermission is the huma middleware that enforces the permission each
// operation declares (see permissions in routes.go), before its parameters
// and body are read: a reader posting a malformed body gets 403, not 422.
func (s *server) checkPermission(ctx huma.Context, next func(huma.Context)) {
	perm, ok := ctx.Operation().Metadata[permissionKey].(contextd.Permission)
	if !ok { // a public route
		next(ctx)
		return
	}
	p := contextd.PrincipalFrom(ctx.Context())
	var err error
	if perm == anyCredential {
		if p == nil {
			err = contextd.Errorf(contextd.EUNAUTHORIZED, "credentials required")
		}
	} else {
		err = p.Need(perm)
	}
	if err != nil {
		r, w := humago.Unwrap(ctx)
		writeProblem(w, problemFor(r.Context(), err))
		return
	}
	next(ctx)
}

// streaming lifts the server's write timeout for a long-lived response (the
// MCP event stream); every other answer stays bounded by it.
func streaming(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
		h.ServeHTTP(w, r)
	})
}
