// Package mcpapi serves contextd over the Model Context Protocol: the
// contextd tools (memories, contexts, graph, sessions), the nine tools of the
// reference memory server mapped onto contexts and relationships, a resource
// per context and a prompt that loads a session's memories. It holds no
// business logic: every call goes through contextd.Service with the caller's
// Principal.
package mcpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/contextd/contextd"
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Options configure an MCP server.
type Options struct {
	// Principal is the caller for transports without per-request credentials
	// (stdio). Nil means every call must carry a principal: in its Go context
	// (contextd.WithPrincipal) or, over HTTP, in the request (NewHTTPHandler).
	Principal *contextd.Principal
	// Version is reported to clients in the initialize answer; "dev" when empty.
	Version string
	// Logger receives internal errors (logged once, here at the edge); nil
	// discards them.
	Logger *slog.Logger
	// DefaultSessionID is the session of a memory stored without one; "mcp"
	// when empty.
	DefaultSessionID string
	// MaxResultBytes bounds the JSON of one tool answer that lists things
	// (read_graph, search_nodes, open_nodes, ...): past it the answer stops
	// and carries a nextCursor. 0 means DefaultMaxResultBytes.
	MaxResultBytes int
}

// DefaultMaxResultBytes is the default bound on a listing tool's answer, about
// 25,000 tokens: enough for a whole small knowledge graph, never a flood.
const DefaultMaxResultBytes = 100 << 10

func (o *Options) fill() {
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DefaultSessionID == "" {
		o.DefaultSessionID = "mcp"
	}
	if o.MaxResultBytes <= 0 {
		o.MaxResultBytes = DefaultMaxResultBytes
	}
}

// server holds what every handler needs.
type server struct {
	svc  *contextd.Service
	opts Options
}

const instructions = `contextd is a persistent memory and context store.
Use remember/recall/forget for short facts, preferences and instructions about the user (memories, grouped by session).
Use save_context/get_context/search_contexts for longer documents, and link_contexts/get_graph to relate them.
The knowledge-graph tools (create_entities, create_relations, add_observations, read_graph, search_nodes, open_nodes, ...) are compatible with the reference memory server.
Listing tools are paged: pass nextCursor back as cursor to continue.`

// NewServer returns an MCP server with every contextd tool, resource and
// prompt registered. Connect it to any transport (server.Run with
// &mcp.StdioTransport{} for stdio; NewHTTPHandler for Streamable HTTP).
func NewServer(svc *contextd.Service, opts Options) *mcp.Server {
	opts.fill()
	s := &server{svc: svc, opts: opts}
	srv := mcp.NewServer(&mcp.Implementation{Name: "contextd", Title: "contextd", Version: opts.Version},
		&mcp.ServerOptions{Instructions: instructions, Logger: nil})
	s.addTools(srv)
	s.addGraphTools(srv)
	s.addResources(srv)
	s.addPrompts(srv)
	return srv
}

// principalKey is where NewHTTPHandler puts the principal in the token info.
const principalKey = "contextd.principal"

// principal returns the caller of a request: the principal that
// NewHTTPHandler attached to the HTTP request, else the one in ctx, else the
// fixed one of Options. Nil-safe: Service answers EUNAUTHORIZED for nil.
func (s *server) principal(ctx context.Context, extra *mcp.RequestExtra) *contextd.Principal {
	if extra != nil && extra.TokenInfo != nil {
		if p, ok := extra.TokenInfo.Extra[principalKey].(*contextd.Principal); ok {
			return p
		}
	}
	if p := contextd.PrincipalFrom(ctx); p != nil {
		return p
	}
	return s.opts.Principal
}

// toolError turns a domain error into the error a tool answers with: the
// code, the client-safe message and the fields at fault. Internal errors are
// logged here, once, and shown as "internal error".
func (s *server) toolError(tool string, err error) error {
	if err == nil {
		return nil
	}
	code := contextd.ErrorCode(err)
	if code == contextd.EINTERNAL {
		s.opts.Logger.Error("mcp tool failed", "tool", tool, "err", err)
		return errors.New("internal error")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	msg := code + ": " + contextd.ErrorMessage(err)
	var b strings.Builder
	b.WriteString(msg)
	fields := contextd.ErrorFields(err)
	if len(fields) > 1 {
		for _, f := range fields {
			fmt.Fprintf(&b, "\n- %s: %s", f.Location, f.Message)
		}
	}
	return errors.New(b.String())
}

// boolPtr returns &b.
func boolPtr(b bool) *bool { return &b }

// Annotation presets. OpenWorldHint is false everywhere: contextd tools touch
// only the caller's own store.
func readOnly(title string) *mcp.ToolAnnotations {
	return &mcp.ToolAnnotations{Title: title, ReadOnlyHint: true, IdempotentHint: true,
		DestructiveHint: boolPtr(false), OpenWorldHint: boolPtr(false)}
}

func additive(title string) *mcp.ToolAnnotations {
	return &mcp.ToolAnnotations{Title: title, DestructiveHint: boolPtr(false), OpenWorldHint: boolPtr(false)}
}

func updating(title string, idempotent bool) *mcp.ToolAnnotations {
	return &mcp.ToolAnnotations{Title: title, IdempotentHint: idempotent,
		DestructiveHint: boolPtr(true), OpenWorldHint: boolPtr(false)}
}

func destructive(title string) *mcp.ToolAnnotations {
	return &mcp.ToolAnnotations{Title: title, IdempotentHint: true,
		DestructiveHint: boolPtr(true), OpenWorldHint: boolPtr(false)}
}

// jsonText renders v as JSON.stringify(v, null, 2) does: two-space indent,
// no HTML escaping. The reference memory server answers in this form.
func jsonText(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return "{}"
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// textResult is a tool answer whose text is s.
func textResult(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

// truncate cuts s to at most n bytes on a rune boundary and reports whether it cut.
func truncate(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	for n > 0 && n < len(s) && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n], true
}

// rfc3339 formats t as the contract does: RFC 3339 UTC.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// addTool registers a typed tool whose input schema says "array" and
// "object" where the inferred one says "array or null": clients (and the
// reference memory server's schemas) send no nulls, and absent means absent.
func addTool[In, Out any](srv *mcp.Server, t *mcp.Tool, h mcp.ToolHandlerFor[In, Out]) {
	s, err := jsonschema.For[In](nil)
	if err != nil {
		panic(fmt.Sprintf("mcpapi: tool %s: %v", t.Name, err))
	}
	dropNull(s)
	t.InputSchema = s
	mcp.AddTool(srv, t, h)
}

func dropNull(s *jsonschema.Schema) {
	if s == nil {
		return
	}
	if len(s.Types) == 2 && slices.Contains(s.Types, "null") {
		t := s.Types[0]
		if t == "null" {
			t = s.Types[1]
		}
		s.Type, s.Types = t, nil
	}
	dropNull(s.Items)
	dropNull(s.AdditionalProperties)
	for _, p := range s.Properties {
		dropNull(p)
	}
	for _, d := range s.Defs {
		dropNull(d)
	}
}
