package httpapi

import (
	"github.com/contextd/contextd"
	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// permissionKey is the operation metadata key holding a route's permission.
const permissionKey = "contextd.permission"

// checkPermission is the huma middleware that enforces the permission each
// operation declares (see permissions in routes.go), before its parameters
// and body are read: a reader posting a malformed body gets 403, not 422.
func (s *server) checkPermission(ctx huma.Context, next func(huma.Context)) {
	perm, ok := ctx.Operation().Metadata[permissionKey].(contextd.Permission)
	if !ok { // a public route
		next(ctx)
		return
	}
	if err := contextd.PrincipalFrom(ctx.Context()).Need(perm); err != nil {
		r, w := humago.Unwrap(ctx)
		writeProblem(w, problemFor(r.Context(), err))
		return
	}
	next(ctx)
}
