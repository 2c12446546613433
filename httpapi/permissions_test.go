package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/golang-jwt/jwt/v5"
)

// routeCall is how the permission tests call one operation: a request the
// Service accepts (so that the Service's own check runs too) and the
// permissions the call needs, the declared one first.
type routeCall struct {
	path, body string
	needs      []contextd.Permission // none: any credential
	apiKeyOnly bool                  // JWTs are refused with 403
}

// routeCalls lists every credentialed operation of the API by operation id.
// TestPermissionTable fails when the OpenAPI document has one missing here:
// a new route must say what it needs.
var routeCalls = map[string]routeCall{
	"issueToken": {"/v1/auth/token", "", nil, true},

	"healthDetails": {"/health/details", "", perms("admin:ops"), false},

	"createContext":      {"/v1/contexts", `{"title":"perm"}`, perms("contexts:write"), false},
	"createContexts":     {"/v1/contexts/batch", `{"items":[{"title":"perm"}]}`, perms("contexts:write"), false},
	"listContexts":       {"/v1/contexts", "", perms("contexts:read"), false},
	"getContext":         {"/v1/contexts/nope", "", perms("contexts:read"), false},
	"updateContext":      {"/v1/contexts/nope", `{"title":"x"}`, perms("contexts:write"), false},
	"deleteContext":      {"/v1/contexts/nope", "", perms("contexts:write"), false},
	"createRelationship": {"/v1/contexts/nope/relationships", `{"type":"FOLLOWS","targetId":"nope2"}`, perms("contexts:write"), false},
	"listRelationships":  {"/v1/contexts/nope/relationships", "", perms("contexts:read"), false},
	"deleteRelationship": {"/v1/relationships/nope", "", perms("contexts:write"), false},
	"getGraph":           {"/v1/contexts/nope/graph", "", perms("contexts:read"), false},

	"search":      {"/v1/search", `{"query":"fox"}`, perms("search"), false},
	"searchGet":   {"/v1/search?q=fox", "", perms("search"), false},
	"searchStats": {"/v1/search/stats", "", perms("search"), false},

	"createMemory":   {"/v1/memories", `{"type":"fact","content":"perm","sessionId":"s-perm"}`, perms("memories:write"), false},
	"createMemories": {"/v1/memories/batch", `{"items":[{"type":"fact","content":"perm","sessionId":"s-perm"}]}`, perms("memories:write"), false},
	"listMemories":   {"/v1/memories", "", perms("memories:read"), false},
	"searchMemories": {"/v1/memories/search", `{"query":"perm"}`, perms("memories:read"), false},
	"getMemory":      {"/v1/memories/nope", "", perms("memories:read"), false},
	"updateMemory":   {"/v1/memories/nope", `{"content":"x"}`, perms("memories:write"), false},
	"deleteMemory":   {"/v1/memories/nope", "", perms("memories:write"), false},

	"createSession":       {"/v1/sessions", `{"title":"perm"}`, perms("memories:write"), false},
	"listSessions":        {"/v1/sessions", "", perms("memories:read"), false},
	"getSession":          {"/v1/sessions/nope", "", perms("memories:read"), false},
	"deleteSession":       {"/v1/sessions/nope", "", perms("memories:write"), false},
	"listSessionMemories": {"/v1/sessions/nope/memories", "", perms("memories:read"), false},
	"listSessionContexts": {"/v1/sessions/nope/contexts", "", perms("contexts:read", "memories:read"), false},

	"listAPIKeys":  {"/v1/admin/api-keys", "", perms("admin:keys"), false},
	"createAPIKey": {"/v1/admin/api-keys", `{"role":"admin","scopes":["admin:keys"]}`, perms("admin:keys"), false},
	"getAPIKey":    {"/v1/admin/api-keys/nope", "", perms("admin:keys"), false},
	"revokeAPIKey": {"/v1/admin/api-keys/nope", "", perms("admin:keys"), false},
	"listAlerts":   {"/v1/admin/alerts", "", perms("admin:ops"), false},
	"listAudit":    {"/v1/admin/audit", "", perms("admin:audit"), false},

	"listTemplates":  {"/v1/templates", "", perms("contexts:read"), false},
	"contextHistory": {"/v1/contexts/nope/history", "", perms("contexts:read"), false},
	"memoryHistory":  {"/v1/memories/nope/history", "", perms("memories:read"), false},
	"export":         {"/v1/export", "", perms("admin:backup"), false},
	"import":         {"/v1/import", `{"format":"contextd-export","version":1}`, perms("admin:backup"), false},
	"createBackup":   {"/v1/admin/backups", "", perms("admin:backup"), false},
	"listBackups":    {"/v1/admin/backups", "", perms("admin:backup"), false},
	"restoreObject":  {"/v1/admin/restore", `{"contextId":"nope","at":"2026-01-01T00:00:00Z"}`, perms("admin:backup"), false},
}

func perms(ps ...string) []contextd.Permission {
	out := make([]contextd.Permission, len(ps))
	for i, p := range ps {
		out[i] = contextd.Permission(p)
	}
	return out
}

// operation is one operation of the OpenAPI document.
type operation struct {
	id, method, path string
	declared         []string // the scopes of its security requirements
}

// operations reads every operation behind credentials from /openapi.json.
func (e *testEnv) operations() []operation {
	e.t.Helper()
	w := e.do(http.MethodGet, "/openapi.json", "", "")
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string                `json:"operationId"`
			Security    []map[string][]string `json:"security"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		e.t.Fatalf("openapi.json: %v", err)
	}
	var out []operation
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if len(op.Security) == 0 {
				continue // public
			}
			o := operation{id: op.OperationID, method: strings.ToUpper(method), path: path}
			for _, req := range op.Security {
				for _, scopes := range req {
					o.declared = append(o.declared, scopes...)
				}
			}
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b operation) int { return strings.Compare(a.id, b.id) })
	return out
}

// TestPermissionTable checks every route against every role, every
// single-permission narrowing of an admin key, and a narrowed JWT: a call
// is refused with 403 exactly when the credential lacks a permission the
// route needs, and otherwise reaches the Service (any answer but 401/403).
func TestPermissionTable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ops := e.operations()
	if len(ops) < len(routeCalls) {
		t.Fatalf("the OpenAPI document lists %d credentialed operations, the table %d", len(ops), len(routeCalls))
	}

	// Credentials: the three roles, an admin key narrowed to each permission,
	// and JWTs narrowed by their scope claim.
	type cred struct {
		name   string
		header string
		has    []contextd.Permission
	}
	creds := []cred{
		{"reader", "Bearer " + e.keys["reader"], contextd.RoleReader.Permissions()},
		{"writer", "Bearer " + e.keys["writer"], contextd.RoleWriter.Permissions()},
		{"admin", "Bearer " + e.keys["admin"], contextd.RoleAdmin.Permissions()},
	}
	for _, p := range contextd.AllPermissions {
		_, key, err := e.svc.NewAPIKey(ctx, contextd.KeyCreate{Tenant: "tenant-a", Role: contextd.RoleAdmin,
			Name: "only-" + strings.ReplaceAll(string(p), ":", "-"), Scopes: []contextd.Permission{p}})
		if err != nil {
			t.Fatal(err)
		}
		creds = append(creds, cred{"admin key narrowed to " + string(p), "Bearer " + key, []contextd.Permission{p}})
	}
	secret := []byte(testJWTSecret)
	creds = append(creds,
		cred{"jwt writer scope=contexts:read search", "Bearer " + token(t, jwt.SigningMethodHS256, secret,
			claims("tenant-a", "writer", time.Hour, "scope", "contexts:read search")), perms("contexts:read", "search")},
		cred{"jwt admin scope=memories:read memories:write", "Bearer " + token(t, jwt.SigningMethodHS256, secret,
			claims("tenant-a", "admin", time.Hour, "scope", "memories:read memories:write")), perms("memories:read", "memories:write")},
	)

	for _, op := range ops {
		call, ok := routeCalls[op.id]
		if !ok {
			t.Errorf("%s %s (%s) is not in routeCalls: say which permission it needs", op.method, op.path, op.id)
			continue
		}
		if len(call.needs) == 0 && len(op.declared) != 0 || len(call.needs) > 0 && (len(op.declared) == 0 || op.declared[0] != string(call.needs[0])) {
			t.Errorf("%s declares %v in the OpenAPI document, the table says %v", op.id, op.declared, call.needs)
		}
		for _, c := range creds {
			allowed := !(call.apiKeyOnly && strings.HasPrefix(c.name, "jwt"))
			for _, need := range call.needs {
				allowed = allowed && slices.Contains(c.has, need)
			}
			w := e.do(op.method, call.path, call.body, "raw:"+c.header)
			switch {
			case allowed && (w.Code == http.StatusForbidden || w.Code == http.StatusUnauthorized):
				t.Errorf("%s %s as %s: %d, want the call allowed: %s", op.method, call.path, c.name, w.Code, w.Body)
			case !allowed && w.Code != http.StatusForbidden:
				t.Errorf("%s %s as %s: %d, want 403: %s", op.method, call.path, c.name, w.Code, w.Body)
			}
		}
	}
}

// TestPermissionsNarrowing covers the rules of narrowed credentials: a key
// cannot be narrowed to a permission its role lacks, and a credential can
// only mint keys with permissions it holds.
func TestPermissionsNarrowing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, keysOnly, err := e.svc.NewAPIKey(ctx, contextd.KeyCreate{Tenant: "tenant-a", Role: contextd.RoleAdmin, Name: "keys-only",
		Scopes: perms("admin:keys", "contexts:read")})
	if err != nil {
		t.Fatal(err)
	}
	e.keys["keysOnly"] = keysOnly
	e.run(t, []apiCase{
		{"reader key narrowed to a write permission", post, "/v1/admin/api-keys", `{"role":"reader","scopes":["contexts:write"]}`, "admin", nil, 422, `body.scopes`},
		{"unknown permission", post, "/v1/admin/api-keys", `{"role":"reader","scopes":["contexts:delete"]}`, "admin", nil, 422, `body.scopes[0]`},
		{"narrowed key shows its scopes", post, "/v1/admin/api-keys", `{"role":"reader","scopes":["search","contexts:read"]}`, "admin", nil, 201, `"scopes":["contexts:read","search"]`},
		{"narrowed admin mints within its permissions", post, "/v1/admin/api-keys", `{"role":"reader","scopes":["contexts:read"]}`, "keysOnly", nil, 201, `"scopes":["contexts:read"]`},
		{"narrowed admin cannot mint a whole role", post, "/v1/admin/api-keys", `{"role":"reader"}`, "keysOnly", nil, 403, `permissions it holds`},
		{"narrowed admin cannot mint more than it has", post, "/v1/admin/api-keys", `{"role":"writer","scopes":["contexts:write"]}`, "keysOnly", nil, 403, ``},
		{"writer cannot manage keys", get, "/v1/admin/api-keys", "", "writer", nil, 403, `admin:keys`},
	}, nil)

	// A JWT whose scope names a permission the role does not grant, or an
	// unknown one, is not a valid token.
	secret := []byte(testJWTSecret)
	for _, scope := range []string{"contexts:write", "bogus", "admin:keys"} {
		tok := token(t, jwt.SigningMethodHS256, secret, claims("tenant-a", "reader", time.Hour, "scope", scope))
		if w := e.do(get, "/v1/contexts", "", "raw:Bearer "+tok); w.Code != http.StatusUnauthorized {
			t.Errorf("reader JWT with scope %q: %d, want 401", scope, w.Code)
		}
	}
}
