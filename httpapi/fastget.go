package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/contextd/contextd"
	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// GET /v1/contexts/{id} is the most frequent request of all. Through huma
// it paid, besides the handler itself, for huma's generic machinery:
// reflection over the input and output structs (each allocated), the
// query string parsed to reject unknown parameters, the route matched a
// second time by the mux, a context object per request. serveFastGet
// answers the plain form of the request itself, calling the same handler
// (getContext) and writing its answer as huma writes it, byte for byte:
// the same headers (ETag, Content-Type from huma's content negotiation),
// status and body (huma's formats), for answers and for problems alike.
// Every other form, the ones where huma would do more (a query string, an
// escaped path, a HEAD, an Accept huma must refuse, a credential without
// the permission), goes to huma as before, so its answer is huma's own.
// fastget_test.go compares both ways over many contexts and errors.

// fastGetPath is the route of the fast path and its path's prefix.
const (
	fastGetRoute  = "/v1/contexts/{id}"
	fastGetPrefix = "/v1/contexts/"
)

// fastGet is what serveFastGet needs of the route's huma operation.
type fastGet struct {
	op   *huma.Operation
	perm contextd.Permission
}

// initFastGet finds the operation of GET /v1/contexts/{id}; without it
// (or with a permission of another shape) there is no fast path.
func (s *server) initFastGet() {
	oapi := s.api.OpenAPI()
	if oapi == nil || oapi.Paths == nil {
		return
	}
	item := oapi.Paths[fastGetRoute]
	if item == nil || item.Get == nil {
		return
	}
	perm, ok := item.Get.Metadata[permissionKey].(contextd.Permission)
	if !ok {
		return
	}
	s.fastGet = &fastGet{op: item.Get, perm: perm}
}

// serveFastGet answers r when it is the plain form of the get (see above),
// and reports whether it did; when it did not, nothing was written.
func (s *server) serveFastGet(w http.ResponseWriter, r *http.Request) bool {
	fg := s.fastGet
	if fg == nil || r.Method != http.MethodGet || r.URL.RawQuery != "" || r.URL.RawPath != "" || r.URL.ForceQuery {
		return false
	}
	id, ok := strings.CutPrefix(r.URL.Path, fastGetPrefix)
	if !ok || id == "" || strings.IndexByte(id, '/') >= 0 {
		return false
	}
	ct, err := s.api.Negotiate(r.Header.Get("Accept"))
	if err != nil {
		return false // huma answers 406
	}
	ctx := r.Context()
	p := contextd.PrincipalFrom(ctx)
	if p == nil || (fg.perm != anyCredential && p.Need(fg.perm) != nil) {
		return false // checkPermission answers
	}
	out, err := s.getContext(ctx, &getInput{ID: id, IfNoneMatch: r.Header.Get("If-None-Match")})
	if err != nil {
		s.fastGetError(w, r, ct, err)
		return true
	}
	w.Header().Set("ETag", out.ETag)
	fastGetWrite(ctx, w, s.api, fg.op, http.StatusOK, ct, out.Body)
	return true
}

// fastGetError writes a handler's error as huma does: its headers added,
// then the problem document (its own content type) with its status.
func (s *server) fastGetError(w http.ResponseWriter, r *http.Request, ct string, err error) {
	var he huma.HeadersError
	if errors.As(err, &he) {
		for k, values := range he.GetHeaders() {
			for _, v := range values {
				w.Header().Add(k, v)
			}
		}
	}
	var se huma.StatusError
	if !errors.As(err, &se) {
		se = huma.NewErrorWithContext(humago.NewContext(s.fastGet.op, r, w), http.StatusInternalServerError, "unexpected error occurred", err)
	}
	fastGetWrite(r.Context(), w, s.api, s.fastGet.op, se.GetStatus(), ct, se)
}

// fastGetWrite is huma's writeResponse and transformAndWrite for a
// negotiated content type ct, on an API without transformers.
func fastGetWrite(ctx context.Context, w http.ResponseWriter, api huma.API, op *huma.Operation, status int, ct string, body any) {
	if ctf, ok := body.(huma.ContentTypeFilter); ok {
		ct = ctf.ContentType(ct)
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(status)
	if status == http.StatusNoContent || status == http.StatusNotModified {
		return
	}
	if err := api.Marshal(w, ct, body); err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			w.WriteHeader(499)
			return
		}
		_, _ = w.Write([]byte("error marshaling response"))
		panic(fmt.Errorf("error marshaling response for %s %s %d: %w", op.Method, op.Path, status, err))
	}
}
