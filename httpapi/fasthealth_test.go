package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/sqlite"
	"github.com/prometheus/client_golang/prometheus"
)

// TestFastHealthAnswersAsHuma: GET /health answers byte for byte the same
// (status, every header, body) with the fast path as through huma alone,
// with and without CORS, for every Accept header, query string, method and
// path shape a probe may send; and the access log says the same.
func TestFastHealthAnswersAsHuma(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{TopKMinContexts: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := contextd.NewService(st)
	for _, cors := range []string{"", "*", "https://a.example"} {
		newH := func(fast bool) (http.Handler, *bytes.Buffer) {
			var logs bytes.Buffer
			h, err := NewHandler(Config{Service: svc, Registry: prometheus.NewRegistry(), noFastGet: !fast, CORSOrigin: cors,
				Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			return h, &logs
		}
		fast, fastLogs := newH(true)
		slow, slowLogs := newH(false)
		type req struct {
			method, path string
			hdr          []string
		}
		var reqs []req
		for _, path := range []string{"/health", "/health?x=1", "/health?", "/health/", "/heal%74h", "/healthz"} {
			for _, method := range []string{"GET", "HEAD", "POST", "OPTIONS"} {
				reqs = append(reqs, req{method, path, nil})
			}
		}
		for _, acc := range []string{"application/json", "*/*", "application/*", "text/html", "application/cbor", "json", "text/plain;q=0.5, application/json"} {
			reqs = append(reqs, req{"GET", "/health", []string{"Accept", acc}})
		}
		reqs = append(reqs, req{"GET", "/health", []string{"Origin", "https://a.example"}},
			req{"GET", "/health", []string{"Origin", "https://b.example"}},
			req{"GET", "/health", []string{"Authorization", "Bearer nope"}})
		statuses := map[int]int{}
		for n, q := range reqs {
			do := func(h http.Handler) *httptest.ResponseRecorder {
				rq := httptest.NewRequest(q.method, q.path, nil)
				rq.Header.Set("X-Request-ID", fmt.Sprintf("req-%d", n))
				for i := 0; i+1 < len(q.hdr); i += 2 {
					rq.Header.Add(q.hdr[i], q.hdr[i+1])
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, rq)
				return w
			}
			a, b := do(fast), do(slow)
			if a.Code != b.Code || !slices.Equal(headerLines(a.Header()), headerLines(b.Header())) || !bytes.Equal(a.Body.Bytes(), b.Body.Bytes()) {
				t.Fatalf("CORS %q: %s %s %q:\nfast %d %q\n%s\nhuma %d %q\n%s", cors, q.method, q.path, q.hdr,
					a.Code, headerLines(a.Header()), a.Body.Bytes(), b.Code, headerLines(b.Header()), b.Body.Bytes())
			}
			statuses[a.Code]++
		}
		if statuses[200] < 10 {
			t.Fatalf("CORS %q: %d answers of 200 (%v): the test lost its coverage", cors, statuses[200], statuses)
		}
		if a, b := logLines(t, fastLogs), logLines(t, slowLogs); !slices.Equal(a, b) {
			t.Fatalf("CORS %q: access logs differ:\n%q\n%q", cors, a, b)
		}
	}
}
