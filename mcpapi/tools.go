package mcpapi

import (
	"context"
	"time"

	"github.com/contextd/contextd"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Bounds on what one tool answer carries, so that it never floods an
// assistant's context window.
const (
	maxToolLimit        = 50        // items per page of a listing tool
	listContentBytes    = 1000      // content kept per item in a listing
	memoryContentBytes  = 4 << 10   // content kept per memory in recall/list_memories
	defaultContextBytes = 32 << 10  // get_context content unless maxContentBytes says otherwise
	maxContextBytes     = 256 << 10 // the most get_context returns of a content
	defaultGraphNodes   = 50
	maxGraphNodes       = 200
)

// ---- memories ----

// RememberInput stores a memory.
type RememberInput struct {
	Content    string         `json:"content" jsonschema:"what to remember, one self-contained statement"`
	Type       string         `json:"type,omitempty" jsonschema:"fact (default), preference, context, instruction or example"`
	Importance string         `json:"importance,omitempty" jsonschema:"low, medium (default), high or critical"`
	Confidence *float64       `json:"confidence,omitempty" jsonschema:"0..1, default 1"`
	Tags       []string       `json:"tags,omitempty" jsonschema:"labels to filter by later"`
	SessionID  string         `json:"sessionId,omitempty" jsonschema:"the conversation this belongs to; a default session when absent"`
	Source     string         `json:"source,omitempty" jsonschema:"user, llm (default) or system"`
	Metadata   map[string]any `json:"metadata,omitempty" jsonschema:"any JSON object"`
	ExpiresAt  string         `json:"expiresAt,omitempty" jsonschema:"RFC 3339 time after which the memory is forgotten"`
}

// MemoryOut is a memory as a tool returns it.
type MemoryOut struct {
	contextd.Memory
	ContentTruncated bool `json:"contentTruncated,omitempty"`
}

func memoryOut(m *contextd.Memory, limit int) MemoryOut {
	out := MemoryOut{Memory: *m}
	out.Content, out.ContentTruncated = truncate(m.Content, limit)
	return out
}

// RecallInput searches memories.
type RecallInput struct {
	Query         string   `json:"query,omitempty" jsonschema:"words to look for; empty ranks by importance, confidence and recency"`
	SessionID     string   `json:"sessionId,omitempty" jsonschema:"only this session's memories"`
	Types         []string `json:"types,omitempty" jsonschema:"only these memory types"`
	MinImportance string   `json:"minImportance,omitempty" jsonschema:"low, medium, high or critical"`
	MinConfidence float64  `json:"minConfidence,omitempty" jsonschema:"0..1"`
	Tags          []string `json:"tags,omitempty" jsonschema:"all must be present"`
	Limit         int      `json:"limit,omitempty" jsonschema:"1..50, default 10"`
}

// RecallHit is one ranked memory.
type RecallHit struct {
	Memory MemoryOut `json:"memory"`
	Score  float64   `json:"score"`
}

// RecallOutput lists ranked memories, best first.
type RecallOutput struct {
	Results []RecallHit `json:"results"`
}

// IDInput names one object.
type IDInput struct {
	ID string `json:"id" jsonschema:"the id"`
}

// DeleteOutput confirms a deletion.
type DeleteOutput struct {
	Deleted bool   `json:"deleted"`
	ID      string `json:"id"`
}

// ListMemoriesInput pages through memories.
type ListMemoriesInput struct {
	SessionID  string   `json:"sessionId,omitempty"`
	Type       string   `json:"type,omitempty"`
	Importance string   `json:"importance,omitempty"`
	Source     string   `json:"source,omitempty"`
	Tags       []string `json:"tags,omitempty" jsonschema:"all must be present"`
	Limit      int      `json:"limit,omitempty" jsonschema:"1..50, default 20"`
	Cursor     string   `json:"cursor,omitempty" jsonschema:"nextCursor of the previous page"`
	Order      string   `json:"order,omitempty" jsonschema:"desc (newest first, default) or asc"`
}

// MemoryPage is a page of memories.
type MemoryPage struct {
	Items      []MemoryOut `json:"items"`
	NextCursor string      `json:"nextCursor,omitempty" jsonschema:"pass as cursor for the next page; absent on the last page"`
}

// ---- contexts ----

// LinkSpec is an edge given with a new context.
type LinkSpec struct {
	Type       string         `json:"type" jsonschema:"RELATES_TO, FOLLOWS, INFLUENCES, CONTAINS, DERIVED_FROM or a custom UPPER_SNAKE type"`
	TargetID   string         `json:"targetId" jsonschema:"the id of the context linked to"`
	Properties map[string]any `json:"properties,omitempty"`
}

// SaveContextInput creates a context.
type SaveContextInput struct {
	ID            string         `json:"id,omitempty" jsonschema:"your own id; made by the server when absent"`
	Title         string         `json:"title" jsonschema:"1..500 characters"`
	Content       string         `json:"content,omitempty" jsonschema:"the text, up to 1 MiB"`
	Type          string         `json:"type,omitempty" jsonschema:"lower-case type, default note"`
	Status        string         `json:"status,omitempty" jsonschema:"active (default), archived or draft"`
	Tags          []string       `json:"tags,omitempty"`
	Metadata      map[string]any `json:"metadata,omitempty"`
	SessionID     string         `json:"sessionId,omitempty"`
	Relationships []LinkSpec     `json:"relationships,omitempty" jsonschema:"edges from the new context"`
}

// ContextOut is a context as a tool returns it.
type ContextOut struct {
	contextd.Context
	ContentTruncated bool `json:"contentTruncated,omitempty"`
}

func contextOut(c *contextd.Context, limit int) *ContextOut {
	out := &ContextOut{Context: *c}
	out.Content, out.ContentTruncated = truncate(c.Content, limit)
	if out.Relationships == nil {
		out.Relationships = []*contextd.Relationship{}
	}
	return out
}

// GetContextInput reads a context.
type GetContextInput struct {
	ID              string `json:"id"`
	MaxContentBytes int    `json:"maxContentBytes,omitempty" jsonschema:"content returned at most, default 32768, at most 262144"`
}

// UpdateContextInput changes the fields given.
type UpdateContextInput struct {
	ID        string          `json:"id"`
	Title     *string         `json:"title,omitempty"`
	Content   *string         `json:"content,omitempty"`
	Type      *string         `json:"type,omitempty"`
	Status    *string         `json:"status,omitempty"`
	Tags      *[]string       `json:"tags,omitempty" jsonschema:"replaces all tags"`
	Metadata  *map[string]any `json:"metadata,omitempty" jsonschema:"replaces the whole metadata object"`
	SessionID *string         `json:"sessionId,omitempty" jsonschema:"empty string removes the session"`
	IfVersion int64           `json:"ifVersion,omitempty" jsonschema:"fail unless the context is at this version"`
}

// SearchContextsInput is a full-text search.
type SearchContextsInput struct {
	Query     string   `json:"query" jsonschema:"words (any may match, rarer and more first), \"a phrase\", -excluded, prefix*"`
	Mode      string   `json:"mode,omitempty" jsonschema:"fulltext (default), semantic or hybrid where enabled"`
	Types     []string `json:"types,omitempty"`
	Statuses  []string `json:"statuses,omitempty"`
	Tags      []string `json:"tags,omitempty" jsonschema:"all must be present"`
	SessionID string   `json:"sessionId,omitempty"`
	Limit     int      `json:"limit,omitempty" jsonschema:"1..50, default 10"`
	Offset    int      `json:"offset,omitempty"`
}

// ContextSummary is a context in a listing: its content cut to a snippet.
type ContextSummary struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Type      string    `json:"type"`
	Status    string    `json:"status"`
	Tags      []string  `json:"tags"`
	SessionID string    `json:"sessionId,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	Snippet   string    `json:"snippet" jsonschema:"the start of the content, or the best matching fragments"`
	Truncated bool      `json:"truncated,omitempty" jsonschema:"the content is longer than the snippet: get_context reads it"`
	Score     float64   `json:"score,omitempty"`
}

func summary(c *contextd.Context) ContextSummary {
	s := ContextSummary{ID: c.ID, Title: c.Title, Type: c.Type, Status: c.Status, Tags: c.Tags,
		SessionID: c.SessionID, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if s.Tags == nil {
		s.Tags = []string{}
	}
	s.Snippet, s.Truncated = truncate(c.Content, listContentBytes)
	return s
}

// SearchContextsOutput is a page of ranked contexts.
type SearchContextsOutput struct {
	Results    []ContextSummary `json:"results"`
	Total      int              `json:"total"`
	NextOffset *int             `json:"nextOffset,omitempty" jsonschema:"pass as offset for more; absent when there is no more"`
}

// LinkInput creates one edge.
type LinkInput struct {
	SourceID   string         `json:"sourceId"`
	TargetID   string         `json:"targetId"`
	Type       string         `json:"type" jsonschema:"RELATES_TO, FOLLOWS, INFLUENCES, CONTAINS, DERIVED_FROM or a custom UPPER_SNAKE type"`
	Properties map[string]any `json:"properties,omitempty"`
}

// GraphInput asks for a neighbourhood.
type GraphInput struct {
	ID        string   `json:"id" jsonschema:"the context to start from"`
	Depth     int      `json:"depth,omitempty" jsonschema:"1..5, default 1"`
	Types     []string `json:"types,omitempty" jsonschema:"edge types to follow; all when absent"`
	Direction string   `json:"direction,omitempty" jsonschema:"out, in or both (default)"`
	MaxNodes  int      `json:"maxNodes,omitempty" jsonschema:"1..200, default 50"`
}

// GraphOutput is the neighbourhood: the root first, then breadth first.
type GraphOutput struct {
	Nodes     []ContextSummary         `json:"nodes"`
	Edges     []*contextd.Relationship `json:"edges"`
	Truncated bool                     `json:"truncated"`
}

// ListSessionsInput pages through sessions.
type ListSessionsInput struct {
	UserID string `json:"userId,omitempty"`
	Limit  int    `json:"limit,omitempty" jsonschema:"1..50, default 20"`
	Cursor string `json:"cursor,omitempty"`
	Order  string `json:"order,omitempty" jsonschema:"desc (newest first, default) or asc"`
}

// SessionPage is a page of sessions.
type SessionPage struct {
	Items      []*contextd.Session `json:"items"`
	NextCursor string              `json:"nextCursor,omitempty"`
}

func pageLimit(n, def int) int {
	switch {
	case n <= 0:
		return def
	case n > maxToolLimit:
		return maxToolLimit
	}
	return n
}

func ascending(order string) (bool, error) {
	switch order {
	case "", "desc":
		return false, nil
	case "asc":
		return true, nil
	}
	return false, contextd.Invalid("order", "must be asc or desc")
}

func (s *server) addTools(srv *mcp.Server) {
	addTool(srv, &mcp.Tool{Name: "remember", Annotations: additive("Remember"),
		Description: "Store a memory: a fact, preference, instruction, context or example worth keeping across conversations."},
		s.remember)
	addTool(srv, &mcp.Tool{Name: "recall", Annotations: readOnly("Recall"),
		Description: "Find the memories that best match a query, ranked by relevance, importance, confidence and recency."},
		s.recall)
	addTool(srv, &mcp.Tool{Name: "forget", Annotations: destructive("Forget"),
		Description: "Delete a memory by id."},
		s.forget)
	addTool(srv, &mcp.Tool{Name: "list_memories", Annotations: readOnly("List memories"),
		Description: "List memories, newest first, with filters; paged with cursor/nextCursor."},
		s.listMemories)
	addTool(srv, &mcp.Tool{Name: "save_context", Annotations: additive("Save context"),
		Description: "Store a context: a titled document (note, decision, spec, ...) with tags, metadata and links to other contexts."},
		s.saveContext)
	addTool(srv, &mcp.Tool{Name: "get_context", Annotations: readOnly("Get context"),
		Description: "Read one context with its relationships in both directions."},
		s.getContext)
	addTool(srv, &mcp.Tool{Name: "update_context", Annotations: updating("Update context", true),
		Description: "Change the given fields of a context; the others stay as they are."},
		s.updateContext)
	addTool(srv, &mcp.Tool{Name: "delete_context", Annotations: destructive("Delete context"),
		Description: "Delete a context and its relationships."},
		s.deleteContext)
	addTool(srv, &mcp.Tool{Name: "search_contexts", Annotations: readOnly("Search contexts"),
		Description: "Full-text search over contexts (BM25, title weighted higher) with filters; answers snippets, get_context reads a whole one."},
		s.searchContexts)
	addTool(srv, &mcp.Tool{Name: "link_contexts", Annotations: additive("Link contexts"),
		Description: "Create a typed, directed relationship between two contexts."},
		s.linkContexts)
	addTool(srv, &mcp.Tool{Name: "get_graph", Annotations: readOnly("Get graph"),
		Description: "The graph around a context: nodes (as summaries) and edges up to a depth."},
		s.getGraph)
	addTool(srv, &mcp.Tool{Name: "list_sessions", Annotations: readOnly("List sessions"),
		Description: "List sessions with their memory and context counts, most recent first."},
		s.listSessions)
}

func (s *server) remember(ctx context.Context, req *mcp.CallToolRequest, in RememberInput) (*mcp.CallToolResult, *MemoryOut, error) {
	p := s.principal(ctx, req.Extra)
	c := contextd.MemoryCreate{Type: in.Type, Content: in.Content, Importance: in.Importance,
		Confidence: in.Confidence, Tags: in.Tags, SessionID: in.SessionID, Source: in.Source, Metadata: in.Metadata}
	if c.Type == "" {
		c.Type = contextd.MemoryFact
	}
	if c.Source == "" {
		c.Source = contextd.SourceLLM
	}
	if c.SessionID == "" {
		c.SessionID = s.opts.DefaultSessionID
	}
	if in.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, in.ExpiresAt)
		if err != nil {
			return nil, nil, s.toolError("remember", contextd.Invalid("expiresAt", "must be an RFC 3339 time"))
		}
		c.ExpiresAt = &t
	}
	ms, err := s.svc.CreateMemories(ctx, p, []contextd.MemoryCreate{c}, false)
	if err != nil {
		return nil, nil, s.toolError("remember", err)
	}
	out := memoryOut(ms[0], memoryContentBytes)
	return nil, &out, nil
}

func (s *server) recall(ctx context.Context, req *mcp.CallToolRequest, in RecallInput) (*mcp.CallToolResult, *RecallOutput, error) {
	p := s.principal(ctx, req.Extra)
	q := contextd.MemorySearch{Query: in.Query, SessionID: in.SessionID, Types: in.Types,
		MinImportance: in.MinImportance, MinConfidence: in.MinConfidence, Tags: in.Tags, Limit: pageLimit(in.Limit, 10)}
	hits, err := s.svc.SearchMemories(ctx, p, q)
	if err != nil {
		return nil, nil, s.toolError("recall", err)
	}
	out := &RecallOutput{Results: make([]RecallHit, 0, len(hits))}
	for _, h := range hits {
		out.Results = append(out.Results, RecallHit{Memory: memoryOut(h.Memory, memoryContentBytes), Score: h.Score})
	}
	return nil, out, nil
}

func (s *server) forget(ctx context.Context, req *mcp.CallToolRequest, in IDInput) (*mcp.CallToolResult, *DeleteOutput, error) {
	if err := s.svc.DeleteMemory(ctx, s.principal(ctx, req.Extra), in.ID); err != nil {
		return nil, nil, s.toolError("forget", err)
	}
	return nil, &DeleteOutput{Deleted: true, ID: in.ID}, nil
}

func (s *server) listMemories(ctx context.Context, req *mcp.CallToolRequest, in ListMemoriesInput) (*mcp.CallToolResult, *MemoryPage, error) {
	asc, err := ascending(in.Order)
	if err != nil {
		return nil, nil, s.toolError("list_memories", err)
	}
	f := contextd.MemoryFilter{SessionID: in.SessionID, Type: in.Type, Importance: in.Importance, Source: in.Source,
		Tags: in.Tags, Limit: pageLimit(in.Limit, contextd.DefaultListLimit), Cursor: in.Cursor, Ascending: asc}
	ms, next, err := s.svc.FindMemories(ctx, s.principal(ctx, req.Extra), f)
	if err != nil {
		return nil, nil, s.toolError("list_memories", err)
	}
	out := &MemoryPage{Items: make([]MemoryOut, 0, len(ms)), NextCursor: next}
	for _, m := range ms {
		out.Items = append(out.Items, memoryOut(m, memoryContentBytes))
	}
	return nil, out, nil
}

func (s *server) saveContext(ctx context.Context, req *mcp.CallToolRequest, in SaveContextInput) (*mcp.CallToolResult, *ContextOut, error) {
	c := contextd.ContextCreate{ID: in.ID, Title: in.Title, Content: in.Content, Type: in.Type, Status: in.Status,
		Tags: in.Tags, Metadata: in.Metadata, SessionID: in.SessionID}
	for _, r := range in.Relationships {
		c.Relationships = append(c.Relationships, contextd.RelationshipCreate{Type: r.Type, TargetID: r.TargetID, Properties: r.Properties})
	}
	cs, err := s.svc.CreateContexts(ctx, s.principal(ctx, req.Extra), []contextd.ContextCreate{c}, false)
	if err != nil {
		return nil, nil, s.toolError("save_context", err)
	}
	return nil, contextOut(cs[0], defaultContextBytes), nil
}

func (s *server) getContext(ctx context.Context, req *mcp.CallToolRequest, in GetContextInput) (*mcp.CallToolResult, *ContextOut, error) {
	c, err := s.svc.GetContext(ctx, s.principal(ctx, req.Extra), in.ID)
	if err != nil {
		return nil, nil, s.toolError("get_context", err)
	}
	limit := in.MaxContentBytes
	if limit <= 0 {
		limit = defaultContextBytes
	}
	return nil, contextOut(c, min(limit, maxContextBytes)), nil
}

func (s *server) updateContext(ctx context.Context, req *mcp.CallToolRequest, in UpdateContextInput) (*mcp.CallToolResult, *ContextOut, error) {
	u := contextd.ContextUpdate{Title: in.Title, Content: in.Content, Type: in.Type, Status: in.Status,
		Tags: in.Tags, Metadata: in.Metadata, SessionID: in.SessionID, IfVersion: in.IfVersion}
	c, err := s.svc.UpdateContext(ctx, s.principal(ctx, req.Extra), in.ID, u)
	if err != nil {
		return nil, nil, s.toolError("update_context", err)
	}
	return nil, contextOut(c, defaultContextBytes), nil
}

func (s *server) deleteContext(ctx context.Context, req *mcp.CallToolRequest, in IDInput) (*mcp.CallToolResult, *DeleteOutput, error) {
	if err := s.svc.DeleteContext(ctx, s.principal(ctx, req.Extra), in.ID); err != nil {
		return nil, nil, s.toolError("delete_context", err)
	}
	return nil, &DeleteOutput{Deleted: true, ID: in.ID}, nil
}

func (s *server) searchContexts(ctx context.Context, req *mcp.CallToolRequest, in SearchContextsInput) (*mcp.CallToolResult, *SearchContextsOutput, error) {
	q := contextd.SearchQuery{Query: in.Query, Mode: in.Mode, Limit: pageLimit(in.Limit, 10), Offset: in.Offset, Highlight: true,
		Filters: contextd.SearchFilters{Types: in.Types, Statuses: in.Statuses, Tags: in.Tags, SessionID: in.SessionID}}
	res, err := s.svc.Search(ctx, s.principal(ctx, req.Extra), q)
	if err != nil {
		return nil, nil, s.toolError("search_contexts", err)
	}
	out := &SearchContextsOutput{Results: make([]ContextSummary, 0, len(res.Results)), Total: res.Total}
	for _, h := range res.Results {
		sm := summary(h.Context)
		sm.Score = h.Score
		if frags := h.Highlights["content"]; len(frags) > 0 {
			joined := ""
			for i, f := range frags {
				if i > 0 {
					joined += " … "
				}
				joined += f
			}
			sm.Snippet, _ = truncate(joined, listContentBytes)
			sm.Truncated = true
		}
		out.Results = append(out.Results, sm)
	}
	if next := q.Offset + len(res.Results); len(res.Results) > 0 && next < res.Total {
		out.NextOffset = &next
	}
	return nil, out, nil
}

func (s *server) linkContexts(ctx context.Context, req *mcp.CallToolRequest, in LinkInput) (*mcp.CallToolResult, *contextd.Relationship, error) {
	r, err := s.svc.CreateRelationship(ctx, s.principal(ctx, req.Extra), contextd.RelationshipCreate{
		Type: in.Type, SourceID: in.SourceID, TargetID: in.TargetID, Properties: in.Properties})
	if err != nil {
		return nil, nil, s.toolError("link_contexts", err)
	}
	return nil, r, nil
}

func (s *server) getGraph(ctx context.Context, req *mcp.CallToolRequest, in GraphInput) (*mcp.CallToolResult, *GraphOutput, error) {
	n := in.MaxNodes
	if n <= 0 {
		n = defaultGraphNodes
	}
	if n > maxGraphNodes {
		n = maxGraphNodes
	}
	g, err := s.svc.Graph(ctx, s.principal(ctx, req.Extra), contextd.GraphQuery{
		RootID: in.ID, Depth: in.Depth, Types: in.Types, Direction: in.Direction, MaxNodes: n})
	if err != nil {
		return nil, nil, s.toolError("get_graph", err)
	}
	out := &GraphOutput{Nodes: make([]ContextSummary, 0, len(g.Nodes)), Edges: g.Edges, Truncated: g.Truncated}
	for _, c := range g.Nodes {
		out.Nodes = append(out.Nodes, summary(c))
	}
	if out.Edges == nil {
		out.Edges = []*contextd.Relationship{}
	}
	return nil, out, nil
}

func (s *server) listSessions(ctx context.Context, req *mcp.CallToolRequest, in ListSessionsInput) (*mcp.CallToolResult, *SessionPage, error) {
	asc, err := ascending(in.Order)
	if err != nil {
		return nil, nil, s.toolError("list_sessions", err)
	}
	ss, next, err := s.svc.FindSessions(ctx, s.principal(ctx, req.Extra), contextd.SessionFilter{
		UserID: in.UserID, Limit: pageLimit(in.Limit, contextd.DefaultListLimit), Cursor: in.Cursor, Ascending: asc})
	if err != nil {
		return nil, nil, s.toolError("list_sessions", err)
	}
	if ss == nil {
		ss = []*contextd.Session{}
	}
	return nil, &SessionPage{Items: ss, NextCursor: next}, nil
}
