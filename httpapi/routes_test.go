package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

const (
	get   = http.MethodGet
	post  = http.MethodPost
	patch = http.MethodPatch
	del   = http.MethodDelete
)

// TestRoutes walks every route of the contract with its main successes and
// failures.
func TestRoutes(t *testing.T) {
	e := newEnv(t)
	c1 := e.create("/v1/contexts", `{"title":"Alpha note","content":"the quick brown fox","tags":["t1","t2"],"sessionId":"sess-1","metadata":{"lang":"en"}}`, "writer")
	c2 := e.create("/v1/contexts", `{"title":"Beta","content":"a lazy dog","type":"task","status":"draft","relationships":[{"type":"RELATES_TO","targetId":"`+c1+`"}]}`, "writer")
	c3 := e.create("/v1/contexts", `{"title":"Gamma","content":"to be deleted"}`, "writer")
	m1 := e.create("/v1/memories", `{"type":"fact","content":"the user likes green tea","sessionId":"sess-1","importance":"high","tags":["drink"]}`, "writer")
	rel := e.create("/v1/contexts/"+c1+"/relationships", `{"type":"FOLLOWS","targetId":"`+c2+`","properties":{"weight":0.5}}`, "writer")
	spare := e.ids["writerB"] // a key of another tenant

	cases := []apiCase{
		// Contexts.
		{"create with own id", post, "/v1/contexts", `{"id":"my-ctx","title":"Mine"}`, "writer", nil, 201, `"id":"my-ctx"`},
		{"create taken id", post, "/v1/contexts", `{"id":"my-ctx","title":"Mine"}`, "writer", nil, 409, `"location":"body.id"`},
		{"create relationship to missing target", post, "/v1/contexts", `{"title":"x","relationships":[{"type":"RELATES_TO","targetId":"nope"}]}`, "writer", nil, 404, ""},
		{"create inline relationship", post, "/v1/contexts", `{"title":"x","relationships":[{"type":"CONTAINS","targetId":"{c3}"}]}`, "writer", nil, 201, `"type":"CONTAINS"`},
		{"create defaults", post, "/v1/contexts", `{"title":"Defaults"}`, "writer", nil, 201, `"type":"note","status":"active"`},
		{"create by reader", post, "/v1/contexts", `{"title":"x"}`, "reader", nil, 403, ""},
		{"list", get, "/v1/contexts", "", "reader", nil, 200, `"nextCursor":null`},
		{"list by type", get, "/v1/contexts?type=task", "", "reader", nil, 200, `"title":"Beta"`},
		{"list by status", get, "/v1/contexts?status=draft", "", "reader", nil, 200, `"title":"Beta"`},
		{"list by tags (all)", get, "/v1/contexts?tag=t1&tag=t2", "", "reader", nil, 200, `"title":"Alpha note"`},
		{"list by missing tag", get, "/v1/contexts?tag=t1&tag=zzz", "", "reader", nil, 200, `{"items":[],"nextCursor":null}`},
		{"list by session", get, "/v1/contexts?sessionId=sess-1", "", "reader", nil, 200, `"title":"Alpha note"`},
		{"list by user", get, "/v1/contexts?userId=writer&order=asc&limit=1", "", "reader", nil, 200, `"title":"Alpha note"`},
		{"list by dates", get, "/v1/contexts?createdAfter=2000-01-01T00:00:00Z&createdBefore=2100-01-01T00:00:00Z", "", "reader", nil, 200, `"title":"Beta"`},
		{"list page", get, "/v1/contexts?limit=1", "", "reader", nil, 200, `"nextCursor":"`},
		{"list limit too big", get, "/v1/contexts?limit=101", "", "reader", nil, 422, `"location":"query.limit"`},
		{"list limit zero", get, "/v1/contexts?limit=0", "", "reader", nil, 422, `"location":"query.limit"`},
		{"list limit not a number", get, "/v1/contexts?limit=ten", "", "reader", nil, 422, `query.limit`},
		{"list bad order", get, "/v1/contexts?order=sideways", "", "reader", nil, 422, `query.order`},
		{"list bad status", get, "/v1/contexts?status=bogus", "", "reader", nil, 422, `query.status`},
		{"list bad type", get, "/v1/contexts?type=Bad%20Type", "", "reader", nil, 422, `query.type`},
		{"list bad date", get, "/v1/contexts?createdAfter=yesterday", "", "reader", nil, 422, `query.createdAfter`},
		{"list unknown parameter", get, "/v1/contexts?colour=red", "", "reader", nil, 422, `query.colour`},
		{"list bad cursor", get, "/v1/contexts?cursor=%00garbage", "", "reader", nil, 422, ""},
		{"get", get, "/v1/contexts/{c1}", "", "reader", nil, 200, `"relationships":[{`},
		{"get has incoming edge", get, "/v1/contexts/{c1}", "", "reader", nil, 200, `"sourceId":"{c2}"`},
		{"get missing", get, "/v1/contexts/nope", "", "reader", nil, 404, ""},
		{"patch", patch, "/v1/contexts/{c1}", `{"title":"Alpha note v2","tags":["t1","t2","t3"]}`, "writer", nil, 200, `"version":2`},
		{"patch keeps absent fields", get, "/v1/contexts/{c1}", "", "reader", nil, 200, `"content":"the quick brown fox"`},
		{"patch removes session with null", patch, "/v1/contexts/{c3}", `{"sessionId":null}`, "writer", nil, 200, `"version":2`},
		{"patch bad status", patch, "/v1/contexts/{c1}", `{"status":"gone"}`, "writer", nil, 422, `body.status`},
		{"patch empty title", patch, "/v1/contexts/{c1}", `{"title":""}`, "writer", nil, 422, `body.title`},
		{"patch unknown field", patch, "/v1/contexts/{c1}", `{"userId":"someone"}`, "writer", nil, 422, `body.userId`},
		{"patch missing", patch, "/v1/contexts/nope", `{"title":"x"}`, "writer", nil, 404, ""},
		{"patch by reader", patch, "/v1/contexts/{c1}", `{"title":"x"}`, "reader", nil, 403, ""},
		{"delete by reader", del, "/v1/contexts/{c3}", "", "reader", nil, 403, ""},

		// Relationships and graph.
		{"relationship duplicate", post, "/v1/contexts/{c1}/relationships", `{"type":"FOLLOWS","targetId":"{c2}"}`, "writer", nil, 409, ""},
		{"relationship contains", post, "/v1/contexts/{c1}/relationships", `{"type":"CONTAINS","targetId":"{c2}"}`, "writer", nil, 201, `"sourceId":"{c1}"`},
		{"relationship contains cycle", post, "/v1/contexts/{c2}/relationships", `{"type":"CONTAINS","targetId":"{c1}"}`, "writer", nil, 409, ""},
		{"relationship contains self", post, "/v1/contexts/{c1}/relationships", `{"type":"CONTAINS","targetId":"{c1}"}`, "writer", nil, 409, ""},
		{"relationship custom type", post, "/v1/contexts/{c2}/relationships", `{"type":"BLOCKS","targetId":"{c1}"}`, "writer", nil, 201, `"type":"BLOCKS"`},
		{"relationship bad type", post, "/v1/contexts/{c1}/relationships", `{"type":"blocks","targetId":"{c2}"}`, "writer", nil, 422, `body.type`},
		{"relationship missing target", post, "/v1/contexts/{c1}/relationships", `{"type":"FOLLOWS","targetId":"nope"}`, "writer", nil, 404, ""},
		{"relationship missing source", post, "/v1/contexts/nope/relationships", `{"type":"FOLLOWS","targetId":"{c1}"}`, "writer", nil, 404, ""},
		{"relationship no target", post, "/v1/contexts/{c1}/relationships", `{"type":"FOLLOWS"}`, "writer", nil, 422, `body.targetId`},
		{"relationships", get, "/v1/contexts/{c1}/relationships", "", "reader", nil, 200, `"id":"{rel}"`},
		{"relationships out", get, "/v1/contexts/{c1}/relationships?direction=out&type=FOLLOWS", "", "reader", nil, 200, `"targetId":"{c2}"`},
		{"relationships in", get, "/v1/contexts/{c1}/relationships?direction=in&type=FOLLOWS", "", "reader", nil, 200, `"items":[]`},
		{"relationships bad direction", get, "/v1/contexts/{c1}/relationships?direction=up", "", "reader", nil, 422, `query.direction`},
		{"relationships of missing", get, "/v1/contexts/nope/relationships", "", "reader", nil, 404, ""},
		{"graph", get, "/v1/contexts/{c1}/graph?depth=2&types=FOLLOWS,CONTAINS&direction=out&maxNodes=10", "", "reader", nil, 200, `"edges":[{`},
		{"graph default", get, "/v1/contexts/{c1}/graph", "", "reader", nil, 200, `"nodes":[{"id":"{c1}"`},
		{"graph too deep", get, "/v1/contexts/{c1}/graph?depth=6", "", "reader", nil, 422, `query.depth`},
		{"graph bad type", get, "/v1/contexts/{c1}/graph?types=FOLLOWS,bad", "", "reader", nil, 422, `query.types`},
		{"graph too many nodes", get, "/v1/contexts/{c1}/graph?maxNodes=5001", "", "reader", nil, 422, `query.maxNodes`},
		{"graph of missing", get, "/v1/contexts/nope/graph", "", "reader", nil, 404, ""},
		{"delete relationship", del, "/v1/relationships/{rel}", "", "writer", nil, 204, ""},
		{"delete relationship again", del, "/v1/relationships/{rel}", "", "writer", nil, 404, ""},

		// Search.
		{"search", post, "/v1/search", `{"query":"fox"}`, "reader", nil, 200, `"title":"Alpha note v2"`},
		{"search everything", post, "/v1/search", `{"query":"fox","mode":"fulltext","filters":{"type":["note"],"status":["active"],"tags":["t1"],"sessionId":"sess-1","userId":"writer","createdAfter":"2000-01-01T00:00:00Z","createdBefore":"2100-01-01T00:00:00Z","metadata":{"lang":"en"}},"facets":["type","status","tags","metadata.lang"],"limit":5,"offset":0,"highlight":true}`, "reader", nil, 200, `<mark>fox</mark>`},
		{"search facets", post, "/v1/search", `{"facets":["type"]}`, "reader", nil, 200, `"facets":{"type":[`},
		{"search no match", post, "/v1/search", `{"query":"zebra"}`, "reader", nil, 200, `"results":[],"total":0`},
		{"search unparsable query", post, "/v1/search", `{"query":"\"unbalanced AND ( OR -"}`, "reader", nil, 200, `"results":`},
		{"search semantic unsupported", post, "/v1/search", `{"query":"fox","mode":"semantic"}`, "reader", nil, 422, ""},
		{"search bad mode", post, "/v1/search", `{"query":"fox","mode":"psychic"}`, "reader", nil, 422, `body.mode`},
		{"search bad facet", post, "/v1/search", `{"facets":["colour"]}`, "reader", nil, 422, `body.facets[0]`},
		{"search bad status filter", post, "/v1/search", `{"filters":{"status":["gone"]}}`, "reader", nil, 422, `body.filters.status[0]`},
		{"search limit too big", post, "/v1/search", `{"limit":101}`, "reader", nil, 422, `body.limit`},
		{"search get", get, "/v1/search?q=fox&mode=fulltext&type=note&status=active&tag=t1&limit=5&offset=0", "", "reader", nil, 200, `"total":1`},
		{"search get facets", get, "/v1/search?q=fox&facet=tags&highlight=true", "", "reader", nil, 200, `"tags":[`},
		{"search get bad mode", get, "/v1/search?q=fox&mode=psychic", "", "reader", nil, 422, `query.mode`},
		{"search get bad status", get, "/v1/search?status=gone", "", "reader", nil, 422, `query.status`},
		{"search get bad offset", get, "/v1/search?offset=-1", "", "reader", nil, 422, `query.offset`},
		{"search stats", get, "/v1/search/stats", "", "reader", nil, 200, `"documents":`},

		// Memories.
		{"memory defaults", post, "/v1/memories", `{"type":"preference","content":"prefers short answers","sessionId":"sess-1"}`, "writer", nil, 201, `"importance":"medium"`},
		{"memory creates session", post, "/v1/memories", `{"type":"context","content":"new chat","sessionId":"sess-new"}`, "writer", nil, 201, `"sessionId":"sess-new"`},
		{"memory bad type", post, "/v1/memories", `{"type":"opinion","content":"x","sessionId":"s"}`, "writer", nil, 422, `body.type`},
		{"memory no session", post, "/v1/memories", `{"type":"fact","content":"x"}`, "writer", nil, 422, `body.sessionId`},
		{"memory bad confidence", post, "/v1/memories", `{"type":"fact","content":"x","sessionId":"s","confidence":2}`, "writer", nil, 422, `body.confidence`},
		{"memory bad importance", post, "/v1/memories", `{"type":"fact","content":"x","sessionId":"s","importance":"urgent"}`, "writer", nil, 422, `body.importance`},
		{"memory bad source", post, "/v1/memories", `{"type":"fact","content":"x","sessionId":"s","source":"oracle"}`, "writer", nil, 422, `body.source`},
		{"memory empty content", post, "/v1/memories", `{"type":"fact","content":"","sessionId":"s"}`, "writer", nil, 422, `body.content`},
		{"memory by reader", post, "/v1/memories", `{"type":"fact","content":"x","sessionId":"s"}`, "reader", nil, 403, ""},
		{"memories", get, "/v1/memories", "", "reader", nil, 200, `"id":"{m1}"`},
		{"memories filtered", get, "/v1/memories?sessionId=sess-1&userId=writer&type=fact&importance=high&source=user&tag=drink&limit=5&order=asc", "", "reader", nil, 200, `"id":"{m1}"`},
		{"memories bad importance", get, "/v1/memories?importance=urgent", "", "reader", nil, 422, `query.importance`},
		{"memory", get, "/v1/memories/{m1}", "", "reader", nil, 200, `"content":"the user likes green tea"`},
		{"memory missing", get, "/v1/memories/nope", "", "reader", nil, 404, ""},
		{"memory patch expiry", patch, "/v1/memories/{m1}", `{"importance":"critical","expiresAt":"2100-01-01T00:00:00Z"}`, "writer", nil, 200, `"expiresAt":"2100-01-01T00:00:00Z"`},
		{"memory patch bad", patch, "/v1/memories/{m1}", `{"confidence":-1}`, "writer", nil, 422, `body.confidence`},
		{"memory patch session refused", patch, "/v1/memories/{m1}", `{"sessionId":"other"}`, "writer", nil, 422, `body.sessionId`},
		{"memory search", post, "/v1/memories/search", `{"query":"tea","sessionId":"sess-1","types":["fact"],"minImportance":"low","minConfidence":0.5,"tags":["drink"],"limit":5}`, "reader", nil, 200, `"score":`},
		{"memory search all", post, "/v1/memories/search", `{}`, "reader", nil, 200, `"results":[{"memory":`},
		{"memory search bad type", post, "/v1/memories/search", `{"types":["opinion"]}`, "reader", nil, 422, `body.types[0]`},
		{"memory search bad limit", post, "/v1/memories/search", `{"limit":1000}`, "reader", nil, 422, `body.limit`},
		{"memory batch", post, "/v1/memories/batch", `{"items":[{"type":"fact","content":"one","sessionId":"sess-1"},{"type":"fact","content":"two","sessionId":"sess-1"}]}`, "writer", nil, 201, `"content":"two"`},
		{"memory batch bad item", post, "/v1/memories/batch", `{"items":[{"type":"fact","content":"one","sessionId":"sess-1"},{"type":"nope","content":"two","sessionId":"sess-1"}]}`, "writer", nil, 422, `body.items[1].type`},

		// Sessions.
		{"session", post, "/v1/sessions", `{"id":"sess-2","title":"Chat","metadata":{"client":"cli"}}`, "writer", nil, 201, `"id":"sess-2"`},
		{"session taken", post, "/v1/sessions", `{"id":"sess-2"}`, "writer", nil, 409, ""},
		{"session bad id", post, "/v1/sessions", `{"id":"has space"}`, "writer", nil, 422, `body.id`},
		{"sessions", get, "/v1/sessions?userId=writer&limit=10", "", "reader", nil, 200, `"id":"sess-2"`},
		{"session counts", get, "/v1/sessions/sess-1", "", "reader", nil, 200, `"memoryCount":`},
		{"session memories", get, "/v1/sessions/sess-1/memories?type=fact", "", "reader", nil, 200, `"id":"{m1}"`},
		{"session contexts", get, "/v1/sessions/sess-1/contexts", "", "reader", nil, 200, `"id":"{c1}"`},
		{"session memories of missing", get, "/v1/sessions/nope/memories", "", "reader", nil, 404, ""},
		{"session contexts of missing", get, "/v1/sessions/nope/contexts", "", "reader", nil, 404, ""},
		{"session missing", get, "/v1/sessions/nope", "", "reader", nil, 404, ""},
		{"delete session", del, "/v1/sessions/sess-2", "", "writer", nil, 204, ""},
		{"deleted session", get, "/v1/sessions/sess-2", "", "reader", nil, 404, ""},

		// Batch contexts.
		{"context batch", post, "/v1/contexts/batch", `{"items":[{"title":"b1"},{"title":"b2","tags":["x"]}]}`, "writer", nil, 201, `"title":"b2"`},
		{"context batch bad item", post, "/v1/contexts/batch", `{"items":[{"title":"ok"},{"title":""}]}`, "writer", nil, 422, `body.items[1].title`},
		{"context batch empty", post, "/v1/contexts/batch", `{"items":[]}`, "writer", nil, 422, `body.items`},
		{"context batch duplicate ids", post, "/v1/contexts/batch", `{"items":[{"id":"dup","title":"x"},{"id":"dup","title":"y"}]}`, "writer", nil, 409, `body.items[1].id`},
		{"context batch stored nothing", get, "/v1/contexts/dup", "", "reader", nil, 404, ""},
		{"context batch unknown nested field", post, "/v1/contexts/batch", `{"items":[{"title":"x","zzz":1}]}`, "writer", nil, 422, `body.items[0].zzz`},

		// Administration.
		{"keys", get, "/v1/admin/api-keys", "", "admin", nil, 200, `"name":"reader"`},
		{"keys by writer", get, "/v1/admin/api-keys", "", "writer", nil, 403, ""},
		{"key create", post, "/v1/admin/api-keys", `{"role":"reader","name":"ci","expiresAt":"2100-01-01T00:00:00Z"}`, "admin", nil, 201, `"key":"cxd_`},
		{"key create bad role", post, "/v1/admin/api-keys", `{"role":"root"}`, "admin", nil, 422, `body.role`},
		{"key create past expiry", post, "/v1/admin/api-keys", `{"role":"reader","expiresAt":"2001-01-01T00:00:00Z"}`, "admin", nil, 422, `body.expiresAt`},
		{"key create by writer", post, "/v1/admin/api-keys", `{"role":"admin"}`, "writer", nil, 403, ""},
		{"key", get, "/v1/admin/api-keys/{readerKey}", "", "admin", nil, 200, `"role":"reader"`},
		{"key missing", get, "/v1/admin/api-keys/nope", "", "admin", nil, 404, ""},
		{"key of other tenant", del, "/v1/admin/api-keys/{spare}", "", "admin", nil, 404, ""},
		{"key revoke missing", del, "/v1/admin/api-keys/nope", "", "admin", nil, 404, ""},

		// Deletes last.
		{"delete memory", del, "/v1/memories/{m1}", "", "writer", nil, 204, ""},
		{"deleted memory", get, "/v1/memories/{m1}", "", "reader", nil, 404, ""},
		{"delete context", del, "/v1/contexts/{c3}", "", "writer", nil, 204, ""},
		{"deleted context", get, "/v1/contexts/{c3}", "", "reader", nil, 404, ""},
		{"delete context again", del, "/v1/contexts/{c3}", "", "writer", nil, 404, ""},
		{"delete session with memories", del, "/v1/sessions/sess-1", "", "writer", nil, 204, ""},
		{"session's contexts stay", get, "/v1/contexts/{c1}", "", "reader", nil, 200, `"sessionId":"sess-1"`},
	}
	e.run(t, cases, map[string]string{"c1": c1, "c2": c2, "c3": c3, "m1": m1, "rel": rel,
		"spare": spare, "readerKey": e.ids["reader"]})
}

// TestCreateHeaders checks Location and ETag of every create.
func TestCreateHeaders(t *testing.T) {
	e := newEnv(t)
	c := e.create("/v1/contexts", `{"title":"x"}`, "writer")
	for _, tc := range []struct{ path, body, location string }{
		{"/v1/contexts", `{"title":"x"}`, "/v1/contexts/"},
		{"/v1/memories", `{"type":"fact","content":"x","sessionId":"s"}`, "/v1/memories/"},
		{"/v1/sessions", `{"title":"x"}`, "/v1/sessions/"},
		{"/v1/contexts/" + c + "/relationships", `{"type":"FOLLOWS","targetId":"` + c + `x"}`, ""},
		{"/v1/admin/api-keys", `{"role":"reader"}`, "/v1/admin/api-keys/"},
	} {
		w := e.do(post, tc.path, tc.body, "admin")
		if tc.location == "" { // a relationship to a missing context
			if w.Code != http.StatusNotFound {
				t.Errorf("%s: status %d", tc.path, w.Code)
			}
			continue
		}
		if w.Code != http.StatusCreated {
			t.Fatalf("%s: status %d: %s", tc.path, w.Code, w.Body)
		}
		if loc := w.Header().Get("Location"); !strings.HasPrefix(loc, tc.location) || len(loc) == len(tc.location) {
			t.Errorf("%s: Location %q", tc.path, loc)
		}
		if strings.Contains(tc.path, "contexts") || strings.Contains(tc.path, "memories") {
			if got := w.Header().Get("ETag"); got != `"1"` {
				t.Errorf("%s: ETag %q, want \"1\"", tc.path, got)
			}
			// The Location answers the resource.
			if g := e.do(get, w.Header().Get("Location"), "", "reader"); g.Code != http.StatusOK {
				t.Errorf("GET %s: %d", w.Header().Get("Location"), g.Code)
			}
		}
	}
	w := e.do(post, "/v1/contexts/"+c+"/relationships", `{"type":"FOLLOWS","targetId":"`+e.create("/v1/contexts", `{"title":"y"}`, "writer")+`"}`, "writer")
	if w.Code != http.StatusCreated || !strings.HasPrefix(w.Header().Get("Location"), "/v1/relationships/") {
		t.Errorf("relationship: %d Location %q", w.Code, w.Header().Get("Location"))
	}
}

// TestETag covers versions, ETags, If-Match and If-None-Match.
func TestETag(t *testing.T) {
	e := newEnv(t)
	c := e.create("/v1/contexts", `{"title":"v1"}`, "writer")
	m := e.create("/v1/memories", `{"type":"fact","content":"v1","sessionId":"s"}`, "writer")
	cases := []apiCase{
		{"get", get, "/v1/contexts/{c}", "", "reader", nil, 200, `"version":1`},
		{"not modified", get, "/v1/contexts/{c}", "", "reader", []string{"If-None-Match", `"1"`}, 304, ""},
		{"modified", get, "/v1/contexts/{c}", "", "reader", []string{"If-None-Match", `"7"`}, 200, ""},
		{"if-match ok", patch, "/v1/contexts/{c}", `{"title":"v2"}`, "writer", []string{"If-Match", `"1"`}, 200, `"version":2`},
		{"if-match stale", patch, "/v1/contexts/{c}", `{"title":"v3"}`, "writer", []string{"If-Match", `"1"`}, 412, "If-Match"},
		{"stale write changed nothing", get, "/v1/contexts/{c}", "", "reader", nil, 200, `"title":"v2"`},
		{"if-match weak", patch, "/v1/contexts/{c}", `{"title":"v3"}`, "writer", []string{"If-Match", `W/"2"`}, 200, `"version":3`},
		{"if-match any", patch, "/v1/contexts/{c}", `{"title":"v4"}`, "writer", []string{"If-Match", `*`}, 200, `"version":4`},
		{"if-match list", patch, "/v1/contexts/{c}", `{"title":"v5"}`, "writer", []string{"If-Match", `"9", "4"`}, 200, `"version":5`},
		{"if-match list stale", patch, "/v1/contexts/{c}", `{"title":"v6"}`, "writer", []string{"If-Match", `"9", "4"`}, 412, ""},
		{"if-match garbage", patch, "/v1/contexts/{c}", `{"title":"v6"}`, "writer", []string{"If-Match", `"abc"`}, 412, ""},
		{"if-match on missing", patch, "/v1/contexts/nope", `{"title":"v6"}`, "writer", []string{"If-Match", `"1"`}, 404, ""},
		{"memory if-match ok", patch, "/v1/memories/{m}", `{"content":"v2"}`, "writer", []string{"If-Match", `"1"`}, 200, `"version":2`},
		{"memory if-match stale", patch, "/v1/memories/{m}", `{"content":"v3"}`, "writer", []string{"If-Match", `"1"`}, 412, ""},
		{"memory not modified", get, "/v1/memories/{m}", "", "reader", []string{"If-None-Match", `"2"`}, 304, ""},
		{"memory expiry set", patch, "/v1/memories/{m}", `{"expiresAt":"2100-01-01T00:00:00Z"}`, "writer", nil, 200, `"expiresAt"`},
		{"memory expiry kept when absent", patch, "/v1/memories/{m}", `{"content":"v4"}`, "writer", nil, 200, `"expiresAt":"2100-01-01T00:00:00Z"`},
	}
	e.run(t, cases, map[string]string{"c": c, "m": m})

	w := e.do(get, "/v1/contexts/"+c, "", "reader")
	if got := w.Header().Get("ETag"); got != `"5"` {
		t.Errorf("ETag %q, want \"5\"", got)
	}
	w = e.do(patch, "/v1/memories/"+m, `{"expiresAt":null}`, "writer")
	if w.Code != http.StatusOK || strings.Contains(w.Body.String(), "expiresAt") {
		t.Errorf("null expiresAt: %d %s", w.Code, w.Body)
	}
	if got := w.Header().Get("ETag"); got != `"5"` {
		t.Errorf("memory ETag %q, want \"5\"", got)
	}
	// An expired memory is never returned.
	w = e.do(patch, "/v1/memories/"+m, `{"expiresAt":"2001-01-01T00:00:00Z"}`, "writer")
	if g := e.do(get, "/v1/memories/"+m, "", "reader"); g.Code != http.StatusNotFound {
		t.Errorf("expired memory: PATCH %d, GET %d", w.Code, g.Code)
	}
}
