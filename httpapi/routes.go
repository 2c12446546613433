package httpapi

import (
	"fmt"
	"net/http"

	"github.com/contextd/contextd"
	"github.com/danielgtaylor/huma/v2"
)

// OpenAPI tags.
const (
	tagContexts = "Contexts"
	tagGraph    = "Relationships and graph"
	tagSearch   = "Search"
	tagMemories = "Memories"
	tagSessions = "Sessions"
	tagAdmin    = "Administration"
	tagOps      = "Operations"
)

// permissions says what every credentialed route needs, by operation id: the
// one place that says who may call what (roles grant permissions, see
// contextd.Role.Permissions; keys and tokens may narrow them). The gateway
// checks it before the request body is read, the Service checks it again
// for both front doors, and the OpenAPI document lists it as the scope of
// the operation's security requirement. NewHandler refuses a /v1 route
// missing here.
var permissions = map[string]contextd.Permission{
	"issueToken": anyCredential, // the token carries the key's own permissions

	"healthDetails": contextd.PermAdminOps,

	"createContext":      contextd.PermContextsWrite,
	"createContexts":     contextd.PermContextsWrite,
	"listContexts":       contextd.PermContextsRead,
	"getContext":         contextd.PermContextsRead,
	"updateContext":      contextd.PermContextsWrite,
	"deleteContext":      contextd.PermContextsWrite,
	"createRelationship": contextd.PermContextsWrite,
	"listRelationships":  contextd.PermContextsRead,
	"deleteRelationship": contextd.PermContextsWrite,
	"getGraph":           contextd.PermContextsRead,

	"search":      contextd.PermSearch,
	"searchGet":   contextd.PermSearch,
	"searchStats": contextd.PermSearch,

	"createMemory":   contextd.PermMemoriesWrite,
	"createMemories": contextd.PermMemoriesWrite,
	"listMemories":   contextd.PermMemoriesRead,
	"searchMemories": contextd.PermMemoriesRead,
	"getMemory":      contextd.PermMemoriesRead,
	"updateMemory":   contextd.PermMemoriesWrite,
	"deleteMemory":   contextd.PermMemoriesWrite,

	"createSession":       contextd.PermMemoriesWrite,
	"listSessions":        contextd.PermMemoriesRead,
	"getSession":          contextd.PermMemoriesRead,
	"deleteSession":       contextd.PermMemoriesWrite,
	"listSessionMemories": contextd.PermMemoriesRead,
	"listSessionContexts": contextd.PermContextsRead, // and memories:read: the Service reads the session too

	"listAPIKeys":  contextd.PermAdminKeys,
	"createAPIKey": contextd.PermAdminKeys,
	"getAPIKey":    contextd.PermAdminKeys,
	"revokeAPIKey": contextd.PermAdminKeys,
	"listAlerts":   contextd.PermAdminOps,
	"listAudit":    contextd.PermAdminAudit,

	"listTemplates":  contextd.PermContextsRead,
	"contextHistory": contextd.PermContextsRead,
	"memoryHistory":  contextd.PermMemoriesRead,
	"export":         contextd.PermAdminBackup,
	"import":         contextd.PermAdminBackup,
	"createBackup":   contextd.PermAdminBackup,
	"listBackups":    contextd.PermAdminBackup,
	"restoreObject":  contextd.PermAdminBackup,
}

// routes lists every route of the server, in one place.
func (s *server) routes() {
	api := s.api
	const (
		get, post, patch, del = http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete
		created               = http.StatusCreated
		noContent             = http.StatusNoContent
	)

	// Operations: no credentials, except /health/details (admin).
	huma.Register(api, s.public(get, "/health", "health", "Liveness: 200 when the process serves requests; no I/O"), s.health)
	huma.Register(api, s.public(get, "/health/ready", "ready", "Readiness: 200 when every dependency answers, 503 otherwise"), s.ready)
	huma.Register(api, s.v1(get, "/health/details", "healthDetails", tagOps, "Versions, uptime, resources and components (admin)", 0), s.healthDetails)
	if !s.ops.metricsOff {
		s.mux.Handle("GET /metrics", s.metricsHandler()) // open, or behind the metrics token
	}
	s.mux.HandleFunc("GET /docs", s.docs)
	// GET /openapi.json (and .yaml, -3.0.json, -3.0.yaml) are served by huma.
	if s.mcp != nil {
		s.mux.Handle("/mcp", streaming(s.mcp)) // MCP Streamable HTTP; authenticated by the gateway
	}

	// Contexts.
	huma.Register(api, s.v1(post, "/v1/contexts", "createContext", tagContexts, "Create a context, with optional outgoing relationships", created, 404, 409), s.createContext)
	huma.Register(api, s.v1(post, "/v1/contexts/batch", "createContexts", tagContexts, "Create up to 1,000 contexts, all or nothing", created, 404, 409), s.createContexts)
	huma.Register(api, s.v1(get, "/v1/contexts", "listContexts", tagContexts, "List contexts, newest first unless order=asc", 0), s.listContexts)
	huma.Register(api, s.v1(get, "/v1/contexts/{id}", "getContext", tagContexts, "Get a context with its relationships in both directions", 0, 304, 404), s.getContext)
	huma.Register(api, s.v1(patch, "/v1/contexts/{id}", "updateContext", tagContexts, "Change some fields of a context (If-Match honoured)", 0, 404, 412), s.updateContext)
	huma.Register(api, s.v1(del, "/v1/contexts/{id}", "deleteContext", tagContexts, "Delete a context and its relationships", noContent, 404), s.deleteContext)
	huma.Register(api, s.v1(get, "/v1/templates", "listTemplates", tagContexts, "The context templates: per type, a metadata schema and defaults", 0), s.listTemplates)
	huma.Register(api, s.v1(get, "/v1/contexts/{id}/history", "contextHistory", tagContexts, "Every recorded change of a context, oldest first", 0, 404), s.history(contextd.KindContext))

	// Relationships and graph.
	huma.Register(api, s.v1(post, "/v1/contexts/{id}/relationships", "createRelationship", tagGraph, "Link a context to another", created, 404, 409), s.createRelationship)
	huma.Register(api, s.v1(get, "/v1/contexts/{id}/relationships", "listRelationships", tagGraph, "List the relationships of a context", 0, 404), s.listRelationships)
	huma.Register(api, s.v1(del, "/v1/relationships/{id}", "deleteRelationship", tagGraph, "Delete a relationship", noContent, 404), s.deleteRelationship)
	huma.Register(api, s.v1(get, "/v1/contexts/{id}/graph", "getGraph", tagGraph, "Walk the graph around a context, breadth first", 0, 404), s.graph)

	// Search.
	huma.Register(api, s.v1(post, "/v1/search", "search", tagSearch, "Search contexts: full-text with filters, facets and highlights", 0), s.search)
	huma.Register(api, s.v1(get, "/v1/search", "searchGet", tagSearch, "Search contexts with query parameters", 0), s.searchGet)
	huma.Register(api, s.v1(get, "/v1/search/stats", "searchStats", tagSearch, "Index size and recent query latencies of the tenant", 0), s.searchStats)

	// Memories.
	huma.Register(api, s.v1(post, "/v1/memories", "createMemory", tagMemories, "Store a memory (creates its session if unknown)", created, 409), s.createMemory)
	huma.Register(api, s.v1(post, "/v1/memories/batch", "createMemories", tagMemories, "Store up to 1,000 memories, all or nothing", created, 409), s.createMemories)
	huma.Register(api, s.v1(get, "/v1/memories", "listMemories", tagMemories, "List live memories, newest first unless order=asc", 0), s.listMemories)
	huma.Register(api, s.v1(post, "/v1/memories/search", "searchMemories", tagMemories, "Rank memories for a query", 0), s.searchMemories)
	huma.Register(api, s.v1(get, "/v1/memories/{id}", "getMemory", tagMemories, "Get a memory", 0, 304, 404), s.getMemory)
	huma.Register(api, s.v1(patch, "/v1/memories/{id}", "updateMemory", tagMemories, "Change some fields of a memory (If-Match honoured)", 0, 404, 412), s.updateMemory)
	huma.Register(api, s.v1(del, "/v1/memories/{id}", "deleteMemory", tagMemories, "Delete a memory", noContent, 404), s.deleteMemory)
	huma.Register(api, s.v1(get, "/v1/memories/{id}/history", "memoryHistory", tagMemories, "Every recorded change of a memory, oldest first", 0, 404), s.history(contextd.KindMemory))

	// Sessions.
	huma.Register(api, s.v1(post, "/v1/sessions", "createSession", tagSessions, "Create a session", created, 409), s.createSession)
	huma.Register(api, s.v1(get, "/v1/sessions", "listSessions", tagSessions, "List sessions, newest first unless order=asc", 0), s.listSessions)
	huma.Register(api, s.v1(get, "/v1/sessions/{id}", "getSession", tagSessions, "Get a session with its counts", 0, 404), s.getSession)
	huma.Register(api, s.v1(del, "/v1/sessions/{id}", "deleteSession", tagSessions, "Delete a session and its memories (its contexts stay)", noContent, 404), s.deleteSession)
	huma.Register(api, s.v1(get, "/v1/sessions/{id}/memories", "listSessionMemories", tagSessions, "List the memories of a session", 0, 404), s.listSessionMemories)
	huma.Register(api, s.v1(get, "/v1/sessions/{id}/contexts", "listSessionContexts", tagSessions, "List the contexts of a session", 0, 404), s.listSessionContexts)

	// Tokens.
	huma.Register(api, s.v1(post, "/v1/auth/token", "issueToken", tagAdmin, "Exchange the API key of the request for a short-lived JWT with its tenant, role, uid and scopes", created, 501), s.issueToken)

	// Administration (admin role).
	huma.Register(api, s.v1(get, "/v1/admin/api-keys", "listAPIKeys", tagAdmin, "List the API keys of the tenant", 0), s.listAPIKeys)
	huma.Register(api, s.v1(post, "/v1/admin/api-keys", "createAPIKey", tagAdmin, "Create an API key; the key is shown once", created), s.createAPIKey)
	huma.Register(api, s.v1(get, "/v1/admin/api-keys/{id}", "getAPIKey", tagAdmin, "Get an API key's record", 0, 404), s.getAPIKey)
	huma.Register(api, s.v1(del, "/v1/admin/api-keys/{id}", "revokeAPIKey", tagAdmin, "Revoke an API key; it stops working at once", noContent, 404), s.revokeAPIKey)
	huma.Register(api, s.v1(get, "/v1/export", "export", tagAdmin, "Stream the tenant's data as JSON Lines (contextd-export v1; admin)", 0), s.export)
	huma.Register(api, s.v1(post, "/v1/import", "import", tagAdmin, "Load a contextd-export stream into the tenant, idempotently (admin)", 0, 404, 409), s.importData)
	huma.Register(api, s.v1(post, "/v1/admin/backups", "createBackup", tagAdmin, "Make a consistent, compressed, checksummed backup now (admin)", created), s.createBackup)
	huma.Register(api, s.v1(get, "/v1/admin/backups", "listBackups", tagAdmin, "List the backups, newest first (admin)", 0), s.listBackups)
	huma.Register(api, s.v1(post, "/v1/admin/restore", "restoreObject", tagAdmin, "Put one context, memory or session back as it was at a moment (admin)", 0, 404, 409), s.restoreObject)
	huma.Register(api, s.v1(get, "/v1/admin/audit", "listAudit", tagAdmin, "The tenant's audit trail of administrative actions, newest first", 0), s.listAudit)
	huma.Register(api, s.v1(get, "/v1/admin/alerts", "listAlerts", tagAdmin, "The health monitor's alerts, active and recent, newest first", 0), s.listAlerts)
}

// public describes an operation that needs no credentials.
func (s *server) public(method, path, id, summary string) huma.Operation {
	return huma.Operation{
		OperationID: id, Method: method, Path: path, Summary: summary, Tags: []string{tagOps},
		Errors: []int{http.StatusServiceUnavailable},
		// Probes may add query parameters of their own; these routes have none to check.
		SkipValidateParams: true,
	}
}

// v1 describes an operation behind credentials. status is the success
// status (0 for 200); errs are the statuses it may answer besides the
// common ones (400, 401, 403, 413, 415, 422, 429, 503).
func (s *server) v1(method, path, id, tag, summary string, status int, errs ...int) huma.Operation {
	perm, ok := permissions[id]
	if !ok {
		panic(fmt.Sprintf("route %s %s (%s) declares no permission: add it to permissions in routes.go", method, path, id))
	}
	op := huma.Operation{
		OperationID:   id,
		Method:        method,
		Path:          path,
		Summary:       summary,
		Tags:          []string{tag},
		DefaultStatus: status,
		Security:      []map[string][]string{{schemeBearer: scopesOf(perm)}, {schemeAPIKey: scopesOf(perm)}},
		Metadata:      map[string]any{permissionKey: perm},
		Errors: append([]int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden,
			http.StatusTooManyRequests, http.StatusServiceUnavailable}, errs...),
	}
	if method == http.MethodPost || method == http.MethodPatch {
		op.Errors = append(op.Errors, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType)
		// huma answers 413 when it reads MaxBodyBytes bytes: allow exactly the limit.
		op.MaxBodyBytes = s.bodyLimit(path) + 1
	}
	return op
}
