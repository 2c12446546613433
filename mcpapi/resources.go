package mcpapi

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/contextd/contextd"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Resource URIs.
const (
	contextURITemplate = "contextd://contexts/{id}"
	contextURIPrefix   = "contextd://contexts/"
	graphURI           = "memory://knowledge-graph" // as the reference memory server names it
)

// ContextURI is the resource URI of a context.
func ContextURI(id string) string { return contextURIPrefix + id }

func (s *server) addResources(srv *mcp.Server) {
	srv.AddResourceTemplate(&mcp.ResourceTemplate{Name: "context", Title: "Context", URITemplate: contextURITemplate,
		MIMEType: "application/json", Description: "A context with its relationships, as JSON"}, s.readContext)
	srv.AddResource(&mcp.Resource{Name: "knowledge-graph", Title: "Knowledge Graph", URI: graphURI,
		MIMEType: "application/json", Description: "The knowledge graph (entities and relations), first page"}, s.readGraphResource)
}

func (s *server) readContext(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	uri := req.Params.URI
	id, ok := strings.CutPrefix(uri, contextURIPrefix)
	if !ok || !contextd.ValidID(id) {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	c, err := s.svc.GetContext(ctx, s.principal(ctx, req.Extra), id)
	if contextd.ErrorCode(err) == contextd.ENOTFOUND {
		return nil, mcp.ResourceNotFoundError(uri)
	} else if err != nil {
		return nil, s.toolError("resources/read", err)
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uri, MIMEType: "application/json",
		Text: jsonText(contextOut(c, maxContextBytes))}}}, nil
}

func (s *server) readGraphResource(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	g, err := s.ReadGraph(ctx, s.principal(ctx, req.Extra), ReadGraphInput{})
	if err != nil {
		return nil, s.toolError("resources/read", err)
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, MIMEType: "application/json",
		Text: jsonText(g)}}}, nil
}

// The prompt that loads a session's memories.
const sessionPrompt = "session_memories"

func (s *server) addPrompts(srv *mcp.Server) {
	srv.AddPrompt(&mcp.Prompt{Name: sessionPrompt, Title: "Load session memories",
		Description: "The most relevant memories of a session (optionally for a topic), to start a conversation with",
		Arguments: []*mcp.PromptArgument{
			{Name: "sessionId", Description: "the session whose memories to load", Required: true},
			{Name: "query", Description: "a topic: memories about it rank first"},
			{Name: "limit", Description: "how many memories, 1..50, default 20"},
		}}, s.getSessionPrompt)
}

func (s *server) getSessionPrompt(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	args := req.Params.Arguments
	limit := 20
	if v := args["limit"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxToolLimit {
			return nil, fmt.Errorf("invalid: limit must be 1..%d", maxToolLimit)
		}
		limit = n
	}
	sid := args["sessionId"]
	if sid == "" {
		return nil, fmt.Errorf("invalid: sessionId is required")
	}
	p := s.principal(ctx, req.Extra)
	sess, err := s.svc.GetSession(ctx, p, sid)
	if err != nil {
		return nil, s.toolError("prompts/get", err)
	}
	hits, err := s.svc.SearchMemories(ctx, p, contextd.MemorySearch{Query: args["query"], SessionID: sid, Limit: limit})
	if err != nil {
		return nil, s.toolError("prompts/get", err)
	}
	var b strings.Builder
	title := sess.ID
	if sess.Title != "" {
		title = sess.Title + " (" + sess.ID + ")"
	}
	fmt.Fprintf(&b, "Here is what you remember from session %s", title)
	if q := args["query"]; q != "" {
		fmt.Fprintf(&b, " about %q", q)
	}
	fmt.Fprintf(&b, ", most relevant first (%d of %d memories):\n", len(hits), sess.MemoryCount)
	for _, h := range hits {
		m := h.Memory
		content, cut := truncate(m.Content, memoryContentBytes)
		if cut {
			content += " …"
		}
		fmt.Fprintf(&b, "- [%s, %s importance, %s] %s\n", m.Type, m.Importance, m.Timestamp.UTC().Format("2006-01-02"), content)
	}
	if len(hits) == 0 {
		b.WriteString("(no memories yet)\n")
	}
	b.WriteString("Use these as background; use recall for more and remember for anything new worth keeping.")
	return &mcp.GetPromptResult{Description: "Memories of session " + sess.ID,
		Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: b.String()}}}}, nil
}
