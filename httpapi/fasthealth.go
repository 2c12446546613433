package httpapi

import "net/http"

// GET /health is the liveness probe, asked every few seconds by
// orchestrators and load balancers, and it answers a constant. Through huma
// it cost more than the rest of the gateway (its context object, the
// reflection over the empty input and the output, the second route match
// of the mux). serveFastHealth writes huma's answer for the plain form of
// the request itself, with huma's writer of the fast get (fastget.go):
// the same status, headers (Content-Type from huma's content negotiation)
// and body. Every other form (a query string, an escaped path, a HEAD, an
// Accept huma must refuse) goes to huma as before.
// fasthealth_test.go compares both ways.

// fastHealthRoute is the route and path of the fast path.
const fastHealthRoute = "/health"

// initFastHealth finds the operation of GET /health; without it there is
// no fast path.
func (s *server) initFastHealth() {
	oapi := s.api.OpenAPI()
	if oapi == nil || oapi.Paths == nil {
		return
	}
	if item := oapi.Paths[fastHealthRoute]; item != nil && item.Get != nil {
		s.fastHealth = item.Get
	}
}

// serveFastHealth answers r when it is the plain form of the probe, and
// reports whether it did; when it did not, nothing was written.
func (s *server) serveFastHealth(w http.ResponseWriter, r *http.Request) bool {
	op := s.fastHealth
	if op == nil || r.Method != http.MethodGet || r.URL.Path != fastHealthRoute ||
		r.URL.RawQuery != "" || r.URL.RawPath != "" || r.URL.ForceQuery {
		return false
	}
	ct, err := s.api.Negotiate(r.Header.Get("Accept"))
	if err != nil {
		return false // huma answers 406
	}
	fastGetWrite(r.Context(), w, s.api, op, http.StatusOK, ct, &okHealth.Body)
	return true
}
