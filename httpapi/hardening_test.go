package httpapi_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/contextd/contextd/httpapi"
)

// TestHardeningHeaders: the Helmet set on every answer, HSTS only over TLS,
// CORS credentials only for listed origins, preflights cached.
func TestHardeningHeaders(t *testing.T) {
	listed := newEnv(t, withConfig(func(c *httpapi.Config) { c.CORSOrigin = "https://app.example, https://b.example" }))
	w := listed.do(get, "/v1/contexts", "", "reader", "Origin", "https://app.example")
	for name, want := range map[string]string{
		"X-Content-Type-Options":           "nosniff",
		"X-Frame-Options":                  "DENY",
		"Referrer-Policy":                  "no-referrer",
		"Content-Security-Policy":          "default-src 'none'; frame-ancestors 'none'",
		"Access-Control-Allow-Origin":      "https://app.example",
		"Access-Control-Allow-Credentials": "true",
		"Strict-Transport-Security":        "",
	} {
		if got := w.Header().Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if w := listed.do(get, "/v1/contexts", "", "reader", "Origin", "https://evil.example"); w.Header().Get("Access-Control-Allow-Origin") != "" ||
		w.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("an unlisted origin got CORS headers: %v", w.Header())
	}
	pre := listed.do(http.MethodOptions, "/v1/contexts", "", "", "Origin", "https://b.example", "Access-Control-Request-Method", "POST")
	if pre.Code != 204 || pre.Header().Get("Access-Control-Max-Age") == "" || pre.Header().Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("preflight: %d %v", pre.Code, pre.Header())
	}
	any := newEnv(t, withConfig(func(c *httpapi.Config) { c.CORSOrigin = "*" }))
	if w := any.do(get, "/v1/contexts", "", "reader", "Origin", "https://x.example"); w.Header().Get("Access-Control-Allow-Origin") != "*" ||
		w.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("CORS *: credentials allowed: %v", w.Header())
	}
	r := httptest.NewRequest(get, "/health", nil)
	r.TLS = &tls.ConnectionState{}
	rec := httptest.NewRecorder()
	listed.h.ServeHTTP(rec, r)
	if rec.Header().Get("Strict-Transport-Security") == "" {
		t.Errorf("no HSTS over TLS")
	}
}
