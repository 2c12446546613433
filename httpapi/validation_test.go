package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func tags(n, size int) string {
	t := make([]string, n)
	for i := range t {
		t[i] = fmt.Sprintf("%q", fmt.Sprintf("%0*d", size, i))
	}
	return "[" + strings.Join(t, ",") + "]"
}

// TestValidation covers the contract's limits, unknown fields, malformed
// JSON, content types and enum values.
func TestValidation(t *testing.T) {
	e := newEnv(t)
	c := e.create("/v1/contexts", `{"title":"x"}`, "writer")
	long := func(n int) string { return strings.Repeat("é", n) } // multi-byte: limits count characters
	bigMeta := `{"blob":"` + strings.Repeat("a", 64<<10) + `"}`
	cases := []apiCase{
		// Limits from the contract.
		{"title of 500 characters", post, "/v1/contexts", `{"title":"` + long(500) + `"}`, "writer", nil, 201, ""},
		{"title of 501 characters", post, "/v1/contexts", `{"title":"` + long(501) + `"}`, "writer", nil, 422, `body.title`},
		{"empty title", post, "/v1/contexts", `{"title":""}`, "writer", nil, 422, `body.title`},
		{"missing title", post, "/v1/contexts", `{"content":"x"}`, "writer", nil, 422, `"location":"body.title","message":"is required"`},
		{"64 tags", post, "/v1/contexts", `{"title":"x","tags":` + tags(64, 3) + `}`, "writer", nil, 201, ""},
		{"65 tags", post, "/v1/contexts", `{"title":"x","tags":` + tags(65, 3) + `}`, "writer", nil, 422, `body.tags`},
		{"tag of 100 characters", post, "/v1/contexts", `{"title":"x","tags":` + tags(1, 100) + `}`, "writer", nil, 201, ""},
		{"tag of 101 characters", post, "/v1/contexts", `{"title":"x","tags":` + tags(1, 101) + `}`, "writer", nil, 422, `body.tags[0]`},
		{"empty tag", post, "/v1/contexts", `{"title":"x","tags":[""]}`, "writer", nil, 422, `body.tags[0]`},
		{"metadata over 64 KiB", post, "/v1/contexts", `{"title":"x","metadata":` + bigMeta + `}`, "writer", nil, 422, `body.metadata`},
		{"metadata over 64 KiB in a patch", patch, "/v1/contexts/{c}", `{"metadata":` + bigMeta + `}`, "writer", nil, 422, `body.metadata`},
		{"metadata not an object", post, "/v1/contexts", `{"title":"x","metadata":[1]}`, "writer", nil, 422, `body.metadata`},
		{"metadata nested freely", post, "/v1/contexts", `{"title":"x","metadata":{"a":{"b":[1,{"c":null}]},"Upper":true}}`, "writer", nil, 201, `"Upper":true`},
		{"content over 1 MiB", post, "/v1/contexts", `{"title":"x","content":"` + strings.Repeat("a", 1<<20+1) + `"}`, "writer", nil, 422, `body.content`},
		{"content of 1 MiB", post, "/v1/contexts", `{"title":"x","content":"` + strings.Repeat("a", 1<<20) + `"}`, "writer", nil, 201, ""},
		{"bad type", post, "/v1/contexts", `{"title":"x","type":"Note"}`, "writer", nil, 422, `body.type`},
		{"bad status", post, "/v1/contexts", `{"title":"x","status":"deleted"}`, "writer", nil, 422, `body.status`},
		{"bad id", post, "/v1/contexts", `{"id":"a/b","title":"x"}`, "writer", nil, 422, `body.id`},
		{"wrong JSON type", post, "/v1/contexts", `{"title":42}`, "writer", nil, 422, `body.title`},
		{"tags not a list", post, "/v1/contexts", `{"title":"x","tags":"a"}`, "writer", nil, 422, `body.tags`},
		{"null tags", post, "/v1/contexts", `{"title":"x","tags":null}`, "writer", nil, 201, `"tags":[]`},
		{"batch over 1000", post, "/v1/contexts/batch", `{"items":[` + strings.TrimSuffix(strings.Repeat(`{"title":"x"},`, 1001), ",") + `]}`, "writer", nil, 422, `body.items`},

		// Unknown fields, top level and nested.
		{"unknown field", post, "/v1/contexts", `{"title":"x","colour":"red"}`, "writer", nil, 422, `"location":"body.colour","message":"unexpected property"`},
		{"field in the wrong case", post, "/v1/contexts", `{"title":"x","Tags":["a"]}`, "writer", nil, 422, `body.Tags`},
		{"unknown nested field", post, "/v1/contexts", `{"title":"x","relationships":[{"type":"FOLLOWS","targetId":"{c}","weight":1}]}`, "writer", nil, 422, `body.relationships[0].weight`},
		{"unknown search filter", post, "/v1/search", `{"filters":{"colour":"red"}}`, "reader", nil, 422, `body.filters.colour`},
		{"unknown memory field", post, "/v1/memories", `{"type":"fact","content":"x","sessionId":"s","mood":"happy"}`, "writer", nil, 422, `body.mood`},
		{"unknown patch field", patch, "/v1/contexts/{c}", `{"version":9}`, "writer", nil, 422, `body.version`},
		{"unknown memory search field", post, "/v1/memories/search", `{"query":"x","rerank":true}`, "reader", nil, 422, `body.rerank`},
		{"unknown session field", post, "/v1/sessions", `{"title":"x","owner":"me"}`, "writer", nil, 422, `body.owner`},
		{"unknown key field", post, "/v1/admin/api-keys", `{"role":"reader","tenant":"other"}`, "admin", nil, 422, `body.tenant`},
		{"unknown batch item field", post, "/v1/memories/batch", `{"items":[{"type":"fact","content":"x","sessionId":"s","extra":1}]}`, "writer", nil, 422, `body.items[0].extra`},

		// Malformed JSON: 400.
		{"truncated JSON", post, "/v1/contexts", `{"title":`, "writer", nil, 400, `"location":"body"`},
		{"not JSON", post, "/v1/contexts", `title=x`, "writer", nil, 400, ""},
		{"trailing garbage", post, "/v1/contexts", `{"title":"x"} {}`, "writer", nil, 400, ""},
		{"JSON array", post, "/v1/contexts", `[{"title":"x"}]`, "writer", nil, 422, ""},
		{"JSON null", post, "/v1/contexts", `null`, "writer", nil, 422, ""},
		{"invalid UTF-8", post, "/v1/contexts", "{\"title\":\"\xff\xfe\"}", "writer", nil, 400, "UTF-8"},

		// Content types: 415.
		{"text/plain", post, "/v1/contexts", `{"title":"x"}`, "writer", []string{"Content-Type", "text/plain"}, 415, ""},
		{"form", post, "/v1/search", `q=x`, "reader", []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, ""},
		{"multipart", post, "/v1/memories", `--x--`, "writer", []string{"Content-Type", "multipart/form-data; boundary=x"}, 415, ""},
		{"json with charset", post, "/v1/contexts", `{"title":"x"}`, "writer", []string{"Content-Type", "application/json; charset=utf-8"}, 201, ""},
		{"merge-patch json", patch, "/v1/contexts/{c}", `{"title":"y"}`, "writer", []string{"Content-Type", "application/merge-patch+json"}, 200, ""},
		{"no content type", post, "/v1/contexts", `{"title":"x"}`, "writer", []string{"Content-Type", ""}, 201, ""},
		{"no body", post, "/v1/contexts", ``, "writer", nil, 400, ""},

		// Enum values everywhere.
		{"search mode", post, "/v1/search", `{"mode":"vector"}`, "reader", nil, 422, `body.mode`},
		{"memory importance", post, "/v1/memories", `{"type":"fact","content":"x","sessionId":"s","importance":"HIGH"}`, "writer", nil, 422, `body.importance`},
		{"memory search importance", post, "/v1/memories/search", `{"minImportance":"huge"}`, "reader", nil, 422, `body.minImportance`},
		{"key role", post, "/v1/admin/api-keys", `{"role":"superuser"}`, "admin", nil, 422, `body.role`},
		{"graph direction", get, "/v1/contexts/{c}/graph?direction=sideways", "", "reader", nil, 422, `query.direction`},
		{"list order", get, "/v1/memories?order=random", "", "reader", nil, 422, `query.order`},
		{"memory list source", get, "/v1/memories?source=god", "", "reader", nil, 422, `query.source`},
	}
	e.run(t, cases, map[string]string{"c": c})
}

// TestBodyLimits: 413 beyond the limit, told by Content-Length or found while
// reading; batch routes take more.
func TestBodyLimits(t *testing.T) {
	e := newEnv(t)
	big := `{"title":"x","content":"` + strings.Repeat("a", 2<<20) + `"}`
	w := e.do(post, "/v1/contexts", big, "writer")
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("big body: %d %s", w.Code, w.Body)
	}
	checkProblem(t, w)

	// Without Content-Length (chunked).
	r := httptest.NewRequest(post, "/v1/contexts", strings.NewReader(big))
	r.ContentLength = -1
	r.Header.Set("Authorization", "Bearer "+e.key("writer"))
	r.Header.Set("Content-Type", "application/json")
	rw := httptest.NewRecorder()
	e.h.ServeHTTP(rw, r)
	if rw.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked big body: %d %s", rw.Code, rw.Body)
	}
	checkProblem(t, rw)

	// A 3 MiB batch is fine (16 MiB limit).
	item := `{"title":"x","content":"` + strings.Repeat("b", 100<<10) + `"}`
	batch := `{"items":[` + strings.TrimSuffix(strings.Repeat(item+",", 30), ",") + `]}`
	if w := e.do(post, "/v1/contexts/batch", batch, "writer"); w.Code != http.StatusCreated {
		t.Fatalf("3 MiB batch: %d %s", w.Code, w.Body.String()[:min(300, w.Body.Len())])
	}
	// Over 16 MiB is not.
	huge := `{"items":[` + strings.TrimSuffix(strings.Repeat(item+",", 170), ",") + `]}`
	if w := e.do(post, "/v1/contexts/batch", huge, "writer"); w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("17 MiB batch: %d", w.Code)
	}

	// A configured smaller limit.
	small := newEnv(t, withConfig(func(c *httpapiConfig) { c.MaxBodyBytes = 100 }))
	body := `{"title":"` + strings.Repeat("x", 100-len(`{"title":""}`)) + `"}`
	if w := small.do(post, "/v1/contexts", body, "writer"); w.Code != http.StatusCreated {
		t.Errorf("body of exactly the limit: %d %s", w.Code, w.Body)
	}
	if w := small.do(post, "/v1/contexts", body+" ", "writer"); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("body one byte over the limit: %d %s", w.Code, w.Body)
	}
}
