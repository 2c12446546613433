package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/contextd/contextd/templates"
)

func TestTemplates(t *testing.T) {
	e := newEnv(t)
	if m := e.mustJSON(http.StatusOK, http.MethodGet, "/v1/templates", "", "reader"); len(m["items"].([]any)) != 0 {
		t.Fatalf("templates without a directory: %v", m)
	}
	set, err := templates.Load("../templates/testdata")
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Templates = set
	m := e.mustJSON(http.StatusOK, http.MethodGet, "/v1/templates", "", "reader")
	items := m["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["type"] != "decision" {
		t.Fatalf("templates: %v", m)
	}

	// Defaults and a valid metadata.
	c := e.mustJSON(http.StatusCreated, http.MethodPost, "/v1/contexts", `{"title":"use sqlite","type":"decision","metadata":{"priority":2}}`, "writer")
	if c["status"] != "draft" || toJSON(c["tags"]) != `["decision"]` {
		t.Errorf("template defaults not applied: status %v tags %v", c["status"], c["tags"])
	}
	// Explicit values win over the defaults.
	c2 := e.mustJSON(http.StatusCreated, http.MethodPost, "/v1/contexts", `{"title":"x","type":"decision","status":"active","tags":["mine"],"metadata":{"priority":1}}`, "writer")
	if c2["status"] != "active" || toJSON(c2["tags"]) != `["mine"]` {
		t.Errorf("explicit values replaced: %v %v", c2["status"], c2["tags"])
	}
	// Other types are not checked.
	e.mustJSON(http.StatusCreated, http.MethodPost, "/v1/contexts", `{"title":"free","metadata":{"priority":"high"}}`, "writer")

	for _, tc := range []struct{ body, field string }{
		{`{"title":"t","type":"decision","metadata":{"priority":9}}`, "body.metadata.priority"},
		{`{"title":"t","type":"decision","metadata":{"priority":"high"}}`, "body.metadata.priority"},
		{`{"title":"t","type":"decision","metadata":{}}`, "body.metadata.priority"},
		{`{"title":"t","type":"decision","metadata":{"priority":1,"owner":""}}`, "body.metadata.owner"},
	} {
		w := e.do(http.MethodPost, "/v1/contexts", tc.body, "writer")
		if w.Code/100 != 4 || !strings.Contains(w.Body.String(), tc.field) {
			t.Errorf("%s: %d %s, want a 4xx naming %s", tc.body, w.Code, w.Body.String(), tc.field)
		}
	}
	// In a batch, the item is named.
	w := e.do(http.MethodPost, "/v1/contexts/batch", `{"items":[{"title":"ok","type":"decision","metadata":{"priority":1}},{"title":"bad","type":"decision","metadata":{"priority":0}}]}`, "writer")
	if w.Code/100 != 4 || !strings.Contains(w.Body.String(), "body.items[1].metadata.priority") {
		t.Errorf("batch: %d %s", w.Code, w.Body.String())
	}
	// Updates: new metadata, or a change of type, are checked.
	id := c["id"].(string)
	if w := e.do(http.MethodPatch, "/v1/contexts/"+id, `{"metadata":{"priority":7}}`, "writer"); w.Code/100 != 4 || !strings.Contains(w.Body.String(), "body.metadata.priority") {
		t.Errorf("update with bad metadata: %d %s", w.Code, w.Body.String())
	}
	free := e.create("/v1/contexts", `{"title":"free","metadata":{"priority":"high"}}`, "writer")
	if w := e.do(http.MethodPatch, "/v1/contexts/"+free, `{"type":"decision"}`, "writer"); w.Code/100 != 4 {
		t.Errorf("type change to a template whose schema the metadata breaks: %d", w.Code)
	}
	e.mustJSON(http.StatusOK, http.MethodPatch, "/v1/contexts/"+id, `{"metadata":{"priority":5,"owner":"ada"}}`, "writer")
}
