package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/contextd/contextd"
)

// Idempotency: a POST with an Idempotency-Key header runs once per tenant,
// credential and key for contextd.IdempotencyTTL (24 h); a retry gets the
// first answer (status, body, Location, ETag) with "Idempotent-Replayed:
// true". The records are kept in the store, so a retry after a crash or a
// restart is still answered from the first run, and every replica of a
// shared store (Neo4j) sees them. The same key with another request is 422;
// a retry while the first request still runs is 409. A 5xx answer is not
// kept, so a retry runs again.

// maxIdempotentBody is the largest answer kept for replay; a larger one
// (a big batch) is not kept, and its key is released.
const maxIdempotentBody = 4 << 20

// replayedHeaders are the response headers a replay repeats.
var replayedHeaders = []string{"Content-Type", "Location", "ETag"}

// idempotencyKeyOK: 1..255 visible ASCII characters.
func idempotencyKeyOK(k string) bool {
	if k == "" || len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// idempotency applies Idempotency-Key to authenticated POSTs.
func (s *server) idempotency(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		p := contextd.PrincipalFrom(r.Context())
		if key == "" || r.Method != http.MethodPost || p == nil || !strings.HasPrefix(r.URL.Path, "/v1/") {
			next.ServeHTTP(w, r)
			return
		}
		if !idempotencyKeyOK(key) {
			writeProblem(w, newProblem(http.StatusBadRequest, "Idempotency-Key must be 1..255 visible ASCII characters",
				contextd.FieldError{Location: "header.Idempotency-Key", Message: "must be 1..255 visible ASCII characters"}))
			return
		}
		var body []byte
		if r.Body != nil {
			var err error
			if body, err = io.ReadAll(r.Body); err != nil {
				// Over the body limit (413) or a broken connection: answer
				// as without the header.
				r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
				next.ServeHTTP(w, r)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		h := sha256.New()
		h.Write([]byte(r.Method + " " + r.URL.RequestURI() + "\n"))
		h.Write(body)
		rec := &contextd.IdempotencyRecord{Tenant: p.Tenant, Credential: rateKey(p), Key: key,
			RequestHash: hex.EncodeToString(h.Sum(nil)), CreatedAt: s.now()}
		ctx := r.Context()
		first, err := s.svc.Store.ReserveIdempotency(ctx, rec, s.now().Add(-contextd.IdempotencyTTL))
		if err != nil {
			writeProblem(w, problemFor(ctx, err))
			return
		}
		if first != nil {
			s.replay(w, first, rec)
			return
		}
		cw := &captureWriter{ResponseWriter: w}
		returned := false // false in the deferred func: the handler panicked
		defer func() {
			// Keep the answer (or release the key) even when the client is
			// gone: the request's context may be cancelled by now.
			// No deadline either: an expiring write job would make the
			// store re-run the other jobs of its group commit.
			bg := context.WithoutCancel(ctx)
			status := cw.status
			if status == 0 {
				status = http.StatusOK
			}
			if status >= 500 || cw.overflow || !returned {
				if err := s.svc.Store.ReleaseIdempotency(bg, rec.Tenant, rec.Credential, rec.Key); err != nil {
					loggerFrom(ctx).Warn("releasing an idempotency key", "err", err)
				}
				return
			}
			rec.Status, rec.Body, rec.Header = status, cw.buf.Bytes(), map[string]string{}
			for _, name := range replayedHeaders {
				if v := w.Header().Get(name); v != "" {
					rec.Header[name] = v
				}
			}
			if err := s.svc.Store.CompleteIdempotency(bg, rec); err != nil {
				loggerFrom(ctx).Warn("keeping an idempotent answer", "err", err)
			}
		}()
		next.ServeHTTP(cw, r)
		returned = true
	})
}

// replay answers a retry from the first answer, or refuses it.
func (s *server) replay(w http.ResponseWriter, first, now *contextd.IdempotencyRecord) {
	switch {
	case first.RequestHash != now.RequestHash:
		writeProblem(w, newProblem(http.StatusUnprocessableEntity, "this Idempotency-Key was used with another request",
			contextd.FieldError{Location: "header.Idempotency-Key", Message: "was used with another method, path or body"}))
	case first.Status == 0:
		pr := newProblem(http.StatusConflict, "a request with this Idempotency-Key is still running: retry later")
		pr.GetHeaders().Set("Retry-After", "1")
		writeProblem(w, pr)
	default:
		for name, v := range first.Header {
			w.Header().Set(name, v)
		}
		w.Header().Set("Idempotent-Replayed", "true")
		w.Header().Set("Content-Length", strconv.Itoa(len(first.Body)))
		w.WriteHeader(first.Status)
		_, _ = w.Write(first.Body)
	}
}

// captureWriter keeps a copy of what it writes, up to maxIdempotentBody.
type captureWriter struct {
	http.ResponseWriter
	status   int
	buf      bytes.Buffer
	overflow bool
}

func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 && code >= 200 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if !c.overflow {
		if c.buf.Len()+len(b) > maxIdempotentBody {
			c.overflow = true
			c.buf = bytes.Buffer{}
		} else {
			c.buf.Write(b)
		}
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (c *captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// errReader returns err after the bytes before it.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
