package httpapi_test

import (
	"net/http"
	"testing"
)

func TestHistory(t *testing.T) {
	e := newEnv(t)
	id := e.create("/v1/contexts", `{"title":"first"}`, "writer")
	e.mustJSON(http.StatusOK, http.MethodPatch, "/v1/contexts/"+id, `{"title":"second"}`, "writer")
	e.mustJSON(http.StatusOK, http.MethodPatch, "/v1/contexts/"+id, `{"title":"third"}`, "writer")
	e.mustJSON(http.StatusNoContent, http.MethodDelete, "/v1/contexts/"+id, "", "writer")

	h := e.mustJSON(http.StatusOK, http.MethodGet, "/v1/contexts/"+id+"/history", "", "reader")
	items, _ := h["items"].([]any)
	if len(items) != 4 {
		t.Fatalf("history has %d items, want 4: %v", len(items), h)
	}
	wantOps := []string{"create", "update", "update", "delete"}
	wantTitles := []string{"first", "second", "third", ""}
	for i, it := range items {
		m := it.(map[string]any)
		if m["op"] != wantOps[i] || m["principal"] != "writer" || m["at"] == nil {
			t.Errorf("item %d: %v", i, m)
		}
		if i < 3 {
			st, _ := m["state"].(map[string]any)
			if st["title"] != wantTitles[i] || m["version"] != float64(i+1) {
				t.Errorf("item %d: state %v version %v", i, st, m["version"])
			}
		} else if m["state"] != nil {
			t.Errorf("the delete has a state: %v", m["state"])
		}
	}
	// Pages.
	p1 := e.mustJSON(http.StatusOK, http.MethodGet, "/v1/contexts/"+id+"/history?limit=3", "", "reader")
	next, _ := p1["nextCursor"].(string)
	if len(p1["items"].([]any)) != 3 || next == "" {
		t.Fatalf("first page: %v", p1)
	}
	p2 := e.mustJSON(http.StatusOK, http.MethodGet, "/v1/contexts/"+id+"/history?limit=3&cursor="+next, "", "reader")
	if len(p2["items"].([]any)) != 1 || p2["nextCursor"] != nil {
		t.Fatalf("second page: %v", p2)
	}
	// Another tenant sees nothing; bad cursors are 4xx.
	checkProblem(t, e.do(http.MethodGet, "/v1/contexts/"+id+"/history", "", "writerB"))
	if w := e.do(http.MethodGet, "/v1/contexts/"+id+"/history", "", "writerB"); w.Code != http.StatusNotFound {
		t.Errorf("other tenant: %d, want 404", w.Code)
	}
	if w := e.do(http.MethodGet, "/v1/contexts/"+id+"/history?cursor=abc", "", "reader"); w.Code/100 != 4 {
		t.Errorf("bad cursor: %d, want 4xx", w.Code)
	}

	mid := e.create("/v1/memories", `{"content":"likes tea","type":"preference","sessionId":"s1"}`, "writer")
	e.mustJSON(http.StatusOK, http.MethodPatch, "/v1/memories/"+mid, `{"content":"likes green tea"}`, "writer")
	mh := e.mustJSON(http.StatusOK, http.MethodGet, "/v1/memories/"+mid+"/history", "", "reader")
	mi := mh["items"].([]any)
	if len(mi) != 2 || mi[1].(map[string]any)["state"].(map[string]any)["content"] != "likes green tea" {
		t.Errorf("memory history: %v", mh)
	}
	if w := e.do(http.MethodGet, "/v1/memories/nope/history", "", "reader"); w.Code != http.StatusNotFound {
		t.Errorf("unknown memory history: %d, want 404", w.Code)
	}
}
