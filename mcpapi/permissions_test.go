package mcpapi_test

import (
	"strings"
	"testing"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/mcpapi"
)

// TestNarrowedCredential: MCP tools obey a credential's narrowed permissions
// as the HTTP routes do (the Service checks them for both front doors).
func TestNarrowedCredential(t *testing.T) {
	e := newEnv(t)
	memOnly := &contextd.Principal{Tenant: "default", Role: contextd.RoleAdmin, Subject: "narrow",
		Scopes: []contextd.Permission{contextd.PermMemoriesRead, contextd.PermMemoriesWrite}}
	cs := e.connect(t, mcpapi.Options{Principal: memOnly})
	if r := call(t, cs, "remember", map[string]any{"content": "tea", "sessionId": "s1", "type": "preference"}); r.IsError {
		t.Fatalf("remember with memories:write: %s", r.Text)
	}
	for name, args := range map[string]any{
		"save_context":    map[string]any{"title": "x"},
		"create_entities": map[string]any{"entities": []any{map[string]any{"name": "A", "entityType": "person", "observations": []any{}}}},
		"read_graph":      map[string]any{},
	} {
		r := call(t, cs, name, args)
		if !r.IsError || !strings.Contains(strings.ToLower(r.Text), "permission") {
			t.Errorf("%s with memories-only scopes: %+v, want a permission error", name, r)
		}
	}
}
