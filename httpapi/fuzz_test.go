package httpapi_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fuzzRoutes are the body routes the fuzzer posts to.
var fuzzRoutes = []struct{ method, path string }{
	{http.MethodPost, "/v1/contexts"},
	{http.MethodPost, "/v1/memories"},
	{http.MethodPost, "/v1/search"},
	{http.MethodPost, "/v1/memories/search"},
	{http.MethodPost, "/v1/contexts/batch"},
	{http.MethodPatch, "/v1/contexts/fuzz-target"},
}

// FuzzDecodeRequest posts arbitrary bytes as request bodies: whatever a
// client sends, the answer is never a 5xx, and every error is a problem
// document.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`{"title":"x"}`,
		`{"title":"x","tags":["a","b"],"metadata":{"k":[1,{"n":null}]},"relationships":[{"type":"FOLLOWS","targetId":"fuzz-target"}]}`,
		`{"type":"fact","content":"x","sessionId":"s","confidence":0.5,"expiresAt":"2100-01-01T00:00:00Z"}`,
		`{"query":"\"a phrase\" -not pre*","filters":{"type":["note"],"metadata":{"k":1}},"facets":["tags","metadata.k"],"highlight":true}`,
		`{"items":[{"title":"a"},{"title":"b","id":"fuzz-target"}]}`,
		`{"sessionId":null,"tags":[]}`,
		`{"title":1e999}`,
		`{"limit":-1,"offset":1e20}`,
		"\xff\xfe",
		`[`, `null`, `""`, `{"":{"":{"":[]}}}`,
	} {
		for i := range fuzzRoutes {
			f.Add(uint8(i), []byte(seed))
		}
	}
	e := newEnv(f, withConfig(func(c *httpapiConfig) { c.Logger = slog.New(slog.DiscardHandler) }))
	e.create("/v1/contexts", `{"id":"fuzz-target","title":"target"}`, "writer")
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		r := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+e.keys["writer"])
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: status %d: %s", rt.method, rt.path, body, w.Code, w.Body)
		}
		if w.Code >= 400 {
			checkProblem(t, w)
		}
	})
}

// TestOddInput sends odd ids, cursors and query values to every route:
// none may answer 5xx.
func TestOddInput(t *testing.T) {
	e := newEnv(t, withConfig(func(c *httpapiConfig) { c.Logger = slog.New(slog.DiscardHandler) }))
	ids := []string{"%00", "%FF%FE", strings.Repeat("a", 5000), "..%2F..%2Fetc", "%E2%80%AE", "a%20b", "'%20OR%201=1--", "*", "%25"}
	idRoutes := []struct{ method, path, body string }{
		{get, "/v1/contexts/%s", ""}, {patch, "/v1/contexts/%s", `{"title":"x"}`}, {del, "/v1/contexts/%s", ""},
		{post, "/v1/contexts/%s/relationships", `{"type":"FOLLOWS","targetId":"x"}`},
		{get, "/v1/contexts/%s/relationships", ""}, {get, "/v1/contexts/%s/graph?depth=5", ""},
		{del, "/v1/relationships/%s", ""}, {get, "/v1/memories/%s", ""}, {patch, "/v1/memories/%s", `{"content":"x"}`},
		{del, "/v1/memories/%s", ""}, {get, "/v1/sessions/%s", ""}, {del, "/v1/sessions/%s", ""},
		{get, "/v1/sessions/%s/memories", ""}, {get, "/v1/sessions/%s/contexts", ""},
		{get, "/v1/admin/api-keys/%s", ""}, {del, "/v1/admin/api-keys/%s", ""},
	}
	for _, r := range idRoutes {
		for _, id := range ids {
			path := strings.Replace(r.path, "%s", id, 1)
			if w := e.do(r.method, path, r.body, "admin"); w.Code >= 500 {
				t.Errorf("%s %s: %d %s", r.method, path, w.Code, w.Body)
			}
		}
	}
	values := []string{"%00", "%FF", strings.Repeat("z", 3000), "-1", "99999999999999999999", "1e3", "%22%27", "a,b,,c", "2020-13-45T99:99:99Z"}
	queries := []string{
		"/v1/contexts?cursor=%s", "/v1/contexts?tag=%s", "/v1/contexts?userId=%s", "/v1/contexts?sessionId=%s",
		"/v1/contexts?createdAfter=%s", "/v1/contexts?limit=%s", "/v1/memories?cursor=%s", "/v1/memories?tag=%s",
		"/v1/sessions?cursor=%s", "/v1/sessions?userId=%s", "/v1/search?q=%s", "/v1/search?facet=%s",
		"/v1/search?offset=%s", "/v1/contexts/x/graph?types=%s", "/v1/contexts/x/graph?maxNodes=%s",
		"/v1/contexts/x/relationships?type=%s", "/v1/sessions/x/memories?cursor=%s",
	}
	for _, q := range queries {
		for _, v := range values {
			path := strings.Replace(q, "%s", v, 1)
			if w := e.do(get, path, "", "admin"); w.Code >= 500 {
				t.Errorf("GET %s: %d %s", path, w.Code, w.Body)
			}
		}
	}
	for _, h := range [][]string{
		{"If-Match", strings.Repeat(`"1",`, 2000)}, {"If-Match", `W/`}, {"If-None-Match", `"99999999999999999999999"`},
		{"Accept", "application/xml"}, {"Accept", "*/*;q=abc"}, {"Content-Type", "application/json; charset=latin1"},
		{"Content-Type", ";;;"}, {"Content-Type", "+"}, {"X-Request-ID", strings.Repeat("\x7f", 10)},
	} {
		for _, r := range []struct{ method, path, body string }{{patch, "/v1/contexts/x", `{"title":"x"}`}, {get, "/v1/contexts/x", ""}, {post, "/v1/search", `{}`}} {
			if w := e.do(r.method, r.path, r.body, "admin", h...); w.Code >= 500 {
				t.Errorf("%s %s with %s: %q: %d %s", r.method, r.path, h[0], h[1][:min(40, len(h[1]))], w.Code, w.Body)
			}
		}
	}
}
