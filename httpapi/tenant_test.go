package httpapi_test

import (
	"strings"
	"testing"
)

// TestTenantIsolation walks every route as tenant B over tenant A's data:
// B never reads, counts, lists, searches, traverses, links, changes or
// deletes any of it, and A's ids answer 404 exactly like missing ones.
func TestTenantIsolation(t *testing.T) {
	e := newEnv(t)
	// Tenant A's data.
	cA := e.create("/v1/contexts", `{"id":"ctx-a","title":"secret plan","content":"secret content","type":"plan","tags":["secret"],"sessionId":"sess-a","metadata":{"project":"apollo"}}`, "writer")
	cA2 := e.create("/v1/contexts", `{"title":"secret annex","content":"more secret"}`, "writer")
	rA := e.create("/v1/contexts/"+cA+"/relationships", `{"type":"CONTAINS","targetId":"`+cA2+`"}`, "writer")
	mA := e.create("/v1/memories", `{"id":"mem-a","type":"fact","content":"the secret code is 42","sessionId":"sess-a","tags":["secret"]}`, "writer")
	e.create("/v1/sessions", `{"id":"sess-a2","title":"secret chat"}`, "writer")

	fx := map[string]string{"cA": cA, "cA2": cA2, "rA": rA, "mA": mA, "keyA": e.ids["reader"]}
	b := "writerB"
	cases := []apiCase{
		// Counts and lists before B has anything.
		{"stats", get, "/v1/search/stats", "", b, nil, 200, `"documents":0,"memories":0`},
		{"contexts", get, "/v1/contexts", "", b, nil, 200, `{"items":[],"nextCursor":null}`},
		{"contexts by tag", get, "/v1/contexts?tag=secret", "", b, nil, 200, `{"items":[],"nextCursor":null}`},
		{"contexts by session", get, "/v1/contexts?sessionId=sess-a", "", b, nil, 200, `{"items":[],"nextCursor":null}`},
		{"contexts by user", get, "/v1/contexts?userId=writer", "", b, nil, 200, `{"items":[],"nextCursor":null}`},
		{"memories", get, "/v1/memories", "", b, nil, 200, `{"items":[],"nextCursor":null}`},
		{"memories by session", get, "/v1/memories?sessionId=sess-a", "", b, nil, 200, `{"items":[],"nextCursor":null}`},
		{"sessions", get, "/v1/sessions", "", b, nil, 200, `{"items":[],"nextCursor":null}`},
		{"search", post, "/v1/search", `{"query":"secret","facets":["type","status","tags","metadata.project"],"highlight":true}`, b, nil, 200, `"results":[],"total":0`},
		{"search facets empty", post, "/v1/search", `{"facets":["type","tags","metadata.project"]}`, b, nil, 200, `"total":0`},
		{"search by metadata", post, "/v1/search", `{"filters":{"metadata":{"project":"apollo"}}}`, b, nil, 200, `"total":0`},
		{"search get", get, "/v1/search?q=secret&tag=secret", "", b, nil, 200, `"results":[],"total":0`},
		{"memory search", post, "/v1/memories/search", `{"query":"secret code"}`, b, nil, 200, `{"results":[]}`},
		{"memory search all", post, "/v1/memories/search", `{}`, b, nil, 200, `{"results":[]}`},
		{"memory search in A's session", post, "/v1/memories/search", `{"sessionId":"sess-a"}`, b, nil, 200, `{"results":[]}`},

		// A's ids are 404 on every route.
		{"get context", get, "/v1/contexts/{cA}", "", b, nil, 404, ""},
		{"patch context", patch, "/v1/contexts/{cA}", `{"title":"mine now"}`, b, nil, 404, ""},
		{"patch context if-match", patch, "/v1/contexts/{cA}", `{"title":"mine now"}`, b, []string{"If-Match", `"1", "2"`}, 404, ""},
		{"delete context", del, "/v1/contexts/{cA}", "", b, nil, 404, ""},
		{"relationships", get, "/v1/contexts/{cA}/relationships", "", b, nil, 404, ""},
		{"link from A's context", post, "/v1/contexts/{cA}/relationships", `{"type":"RELATES_TO","targetId":"{cA2}"}`, b, nil, 404, ""},
		{"graph", get, "/v1/contexts/{cA}/graph?depth=5", "", b, nil, 404, ""},
		{"delete relationship", del, "/v1/relationships/{rA}", "", b, nil, 404, ""},
		{"get memory", get, "/v1/memories/{mA}", "", b, nil, 404, ""},
		{"patch memory", patch, "/v1/memories/{mA}", `{"content":"x"}`, b, nil, 404, ""},
		{"delete memory", del, "/v1/memories/{mA}", "", b, nil, 404, ""},
		{"get session", get, "/v1/sessions/sess-a", "", b, nil, 404, ""},
		{"session memories", get, "/v1/sessions/sess-a/memories", "", b, nil, 404, ""},
		{"session contexts", get, "/v1/sessions/sess-a/contexts", "", b, nil, 404, ""},
		{"delete session", del, "/v1/sessions/sess-a", "", b, nil, 404, ""},
		{"delete other session", del, "/v1/sessions/sess-a2", "", b, nil, 404, ""},
		{"get key", get, "/v1/admin/api-keys/{keyA}", "", "adminB", nil, 404, ""},
		{"revoke key", del, "/v1/admin/api-keys/{keyA}", "", "adminB", nil, 404, ""},

		// Links from B's data to A's data are refused as missing.
		{"create linking to A", post, "/v1/contexts", `{"title":"b","relationships":[{"type":"RELATES_TO","targetId":"{cA}"}]}`, b, nil, 404, ""},
		{"batch linking to A", post, "/v1/contexts/batch", `{"items":[{"title":"b","relationships":[{"type":"RELATES_TO","targetId":"{cA}"}]}]}`, b, nil, 404, ""},
		{"B's context", post, "/v1/contexts", `{"id":"ctx-b","title":"b's own"}`, b, nil, 201, ""},
		{"link B to A", post, "/v1/contexts/ctx-b/relationships", `{"type":"RELATES_TO","targetId":"{cA}"}`, b, nil, 404, ""},
		{"B's graph", get, "/v1/contexts/ctx-b/graph?depth=5&direction=both", "", b, nil, 200, `"edges":[]`},

		// The same ids are B's own, free to take: no 409 that would reveal A's.
		{"same context id", post, "/v1/contexts", `{"id":"ctx-a","title":"b's ctx-a"}`, b, nil, 201, `"id":"ctx-a"`},
		{"same session id", post, "/v1/sessions", `{"id":"sess-a2"}`, b, nil, 201, ""},
		{"same memory id", post, "/v1/memories", `{"id":"mem-a","type":"fact","content":"b's","sessionId":"sess-a"}`, b, nil, 201, ""},
		{"B's session is B's", get, "/v1/sessions/sess-a", "", b, nil, 200, `"memoryCount":1`},
		{"B sees only its ctx-a", get, "/v1/contexts/ctx-a", "", b, nil, 200, `"title":"b's ctx-a"`},
		{"B's lists hold only B's", get, "/v1/contexts?limit=100", "", b, nil, 200, `"title":"b's own"`},
		{"B's keys", get, "/v1/admin/api-keys", "", "adminB", nil, 200, `"name":"writerB"`},

		// A's data is intact.
		{"A's context", get, "/v1/contexts/{cA}", "", "reader", nil, 200, `"title":"secret plan"`},
		{"A's context unchanged", get, "/v1/contexts/{cA}", "", "reader", nil, 200, `"version":1`},
		{"A's relationship", get, "/v1/contexts/{cA}/relationships", "", "reader", nil, 200, `"id":"{rA}"`},
		{"A's memory", get, "/v1/memories/{mA}", "", "reader", nil, 200, `"content":"the secret code is 42"`},
		{"A's session", get, "/v1/sessions/sess-a", "", "reader", nil, 200, `"memoryCount":1`},
		{"A's search", post, "/v1/search", `{"query":"secret"}`, "reader", nil, 200, `"total":2`},
		{"A's key works", get, "/v1/contexts", "", "reader", nil, 200, `"secret plan"`},
	}
	e.run(t, cases, fx)

	// B's answers never mention A's data.
	for _, c := range []struct{ method, path, body string }{
		{get, "/v1/contexts?limit=100", ""},
		{post, "/v1/search", `{"facets":["type","status","tags","metadata.project"]}`},
		{get, "/v1/memories?limit=100", ""},
		{get, "/v1/sessions?limit=100", ""},
		{get, "/v1/admin/api-keys", ""},
		{get, "/v1/search/stats", ""},
	} {
		w := e.do(c.method, c.path, c.body, "adminB")
		for _, leak := range []string{"secret", "apollo", "tenant-a", `"plan"`, e.ids["reader"], cA2} {
			if strings.Contains(w.Body.String(), leak) {
				t.Errorf("%s %s as B shows %q: %s", c.method, c.path, leak, w.Body)
			}
		}
	}
}
