package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestAuditTrail: key creation and revocation and token issue are in the
// tenant's trail, newest first, for admins of that tenant only, and no
// secret is ever in it.
func TestAuditTrail(t *testing.T) {
	e := newEnv(t)
	created := e.mustJSON(201, post, "/v1/admin/api-keys", `{"role":"reader","name":"audited"}`, "admin")
	id, key := created["id"].(string), created["key"].(string)
	e.mustJSON(201, post, "/v1/auth/token", "", "writer")
	if w := e.do(del, "/v1/admin/api-keys/"+id, "", "admin"); w.Code != http.StatusNoContent {
		t.Fatalf("revoke: %d", w.Code)
	}
	body := e.mustJSON(200, get, "/v1/admin/audit?limit=3", "", "admin")
	items := body["items"].([]any)
	if len(items) != 3 {
		t.Fatalf("%d events: %v", len(items), body)
	}
	want := []struct{ action, target, principal string }{
		{"key.revoked", id, "key:" + e.ids["admin"]},
		{"token.issued", e.ids["writer"], "key:" + e.ids["writer"]},
		{"key.created", id, "key:" + e.ids["admin"]},
	}
	for i, w := range want {
		ev := items[i].(map[string]any)
		if ev["action"] != w.action || ev["target"] != w.target || ev["principal"] != w.principal || ev["tenant"] != "tenant-a" {
			t.Errorf("event %d: %v, want %+v", i, ev, w)
		}
	}
	raw := e.do(get, "/v1/admin/audit?limit=100", "", "admin").Body.String()
	if strings.Contains(raw, key) || strings.Contains(raw, e.keys["writer"]) || strings.Contains(raw, "eyJ") {
		t.Fatalf("a secret is in the audit trail: %s", raw)
	}
	// The keys of the test environment were made too (by "cli").
	if !strings.Contains(raw, `"principal":"cli"`) {
		t.Errorf("the CLI-made keys are not in the trail: %s", raw)
	}
	next := body["nextCursor"].(string)
	page2 := e.mustJSON(200, get, "/v1/admin/audit?limit=100&cursor="+next, "", "admin")
	if ev := page2["items"].([]any)[0].(map[string]any); ev["action"] != "key.created" || ev["target"] == id {
		t.Errorf("page 2 starts with %v", ev)
	}
	e.run(t, []apiCase{
		{"writer cannot read the trail", get, "/v1/admin/audit", "", "writer", nil, 403, "admin:audit"},
		{"bad cursor", get, "/v1/admin/audit?cursor=%2F%2F", "", "admin", nil, 422, "query.cursor"},
		{"limit bound", get, "/v1/admin/audit?limit=101", "", "admin", nil, 422, "query.limit"},
	}, nil)
	other := e.mustJSON(200, get, "/v1/admin/audit?limit=100", "", "adminB")
	for _, it := range other["items"].([]any) {
		if ev := it.(map[string]any); ev["tenant"] != "tenant-b" {
			t.Fatalf("tenant-b sees %v", ev)
		}
	}
}
