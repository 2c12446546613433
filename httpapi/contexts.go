package httpapi

import (
	"context"
	"net/url"
	"time"

	"github.com/contextd/contextd"
)

// contextCreateRequest is the body of POST /v1/contexts and one item of a batch.
type contextCreateRequest struct {
	ID            string                `json:"id,omitempty" pattern:"^[A-Za-z0-9][A-Za-z0-9_.~-]{0,127}$" doc:"Your own id; made by the server when absent (409 if taken)"`
	Title         string                `json:"title" minLength:"1" maxLength:"500" doc:"1..500 characters"`
	Content       string                `json:"content,omitempty" maxLength:"1048576" doc:"Up to 1 MiB of UTF-8"`
	Type          string                `json:"type,omitempty" pattern:"^[a-z][a-z0-9_-]{0,63}$" doc:"Lower-case identifier; default note"`
	Status        string                `json:"status,omitempty" enum:"active,archived,draft" doc:"Default active"`
	UserID        string                `json:"userId,omitempty" pattern:"^[A-Za-z0-9][A-Za-z0-9_.@:~-]{0,127}$" doc:"Default: the credential's uid, else its name or subject"`
	SessionID     string                `json:"sessionId,omitempty" pattern:"^[A-Za-z0-9][A-Za-z0-9_.~-]{0,127}$" doc:"A session; created if unknown"`
	Tags          []string              `json:"tags,omitempty" nullable:"false" maxItems:"64" minLength:"1" maxLength:"100" doc:"Up to 64 tags of 1..100 characters"`
	Metadata      map[string]any        `json:"metadata,omitempty" doc:"Any JSON object up to 64 KiB"`
	Relationships []relationshipRequest `json:"relationships,omitempty" nullable:"false" doc:"Outgoing relationships of the new context"`
}

func (b *contextCreateRequest) domain() contextd.ContextCreate {
	c := contextd.ContextCreate{
		ID: b.ID, Title: b.Title, Content: b.Content, Type: b.Type, Status: b.Status,
		UserID: b.UserID, SessionID: b.SessionID, Tags: b.Tags, Metadata: b.Metadata,
	}
	for _, r := range b.Relationships {
		c.Relationships = append(c.Relationships, r.domain(""))
	}
	return c
}

// relationshipRequest is a new relationship from the context in the path
// (or the new context, inline).
type relationshipRequest struct {
	ID         string         `json:"id,omitempty" pattern:"^[A-Za-z0-9][A-Za-z0-9_.~-]{0,127}$" doc:"Your own id; made by the server when absent"`
	Type       string         `json:"type" pattern:"^[A-Z][A-Z0-9_]{0,63}$" doc:"RELATES_TO, FOLLOWS, INFLUENCES, CONTAINS, DERIVED_FROM or a custom UPPER_SNAKE type"`
	TargetID   string         `json:"targetId" pattern:"^[A-Za-z0-9][A-Za-z0-9_.~-]{0,127}$" doc:"The context it points to"`
	Properties map[string]any `json:"properties,omitempty" doc:"Any JSON object up to 64 KiB"`
}

func (b *relationshipRequest) domain(source string) contextd.RelationshipCreate {
	return contextd.RelationshipCreate{ID: b.ID, Type: b.Type, SourceID: source, TargetID: b.TargetID, Properties: b.Properties}
}

// contextPatchRequest changes the fields it holds; absent fields stay.
type contextPatchRequest struct {
	Title     *string        `json:"title,omitempty" minLength:"1" maxLength:"500"`
	Content   *string        `json:"content,omitempty" maxLength:"1048576"`
	Type      *string        `json:"type,omitempty" pattern:"^[a-z][a-z0-9_-]{0,63}$"`
	Status    *string        `json:"status,omitempty" enum:"active,archived,draft"`
	SessionID nullableString `json:"sessionId,omitzero" doc:"null or \"\" removes the context from its session"`
	Tags      *[]string      `json:"tags,omitempty" maxItems:"64" minLength:"1" maxLength:"100" doc:"Replaces every tag"`
	Metadata  map[string]any `json:"metadata,omitempty" doc:"Replaces the whole object"`
}

func (b *contextPatchRequest) domain() contextd.ContextUpdate {
	u := contextd.ContextUpdate{Title: b.Title, Content: b.Content, Type: b.Type, Status: b.Status, Tags: b.Tags}
	if b.SessionID.Set {
		s := ""
		if b.SessionID.Value != nil {
			s = *b.SessionID.Value
		}
		u.SessionID = &s
	}
	if b.Metadata != nil {
		u.Metadata = &b.Metadata
	}
	return u
}

type contextCreateInput struct {
	Body contextCreateRequest
}

type contextBatchInput struct {
	Body struct {
		Items []contextCreateRequest `json:"items" minItems:"1" maxItems:"1000" nullable:"false" doc:"1..1000 contexts, stored all or nothing"`
	} `nameHint:"ContextBatchRequest"`
}

type contextOutput struct {
	ETag string `header:"ETag" doc:"The version, quoted"`
	Body *contextd.Context
}

type contextCreatedOutput struct {
	Location string `header:"Location" doc:"The new context's URL"`
	ETag     string `header:"ETag" doc:"The version, quoted"`
	Body     *contextd.Context
}

type contextBatchOutput struct {
	Body struct {
		Items []*contextd.Context `json:"items"`
	} `nameHint:"ContextBatchResponse"`
}

type idInput struct {
	ID string `path:"id" doc:"The resource id"`
}

type getInput struct {
	ID          string `path:"id" doc:"The resource id"`
	IfNoneMatch string `header:"If-None-Match" doc:"304 when the resource is still at this ETag"`
}

type contextPatchInput struct {
	ID      string `path:"id" doc:"The context id"`
	IfMatch string `header:"If-Match" doc:"Update only if the context is at this ETag (412 otherwise); * for any"`
	Body    contextPatchRequest
}

// ContextFilters are the query parameters that filter the context lists
// (exported only because huma finds parameters in exported embedded structs).
type ContextFilters struct {
	Type          string    `query:"type" pattern:"^[a-z][a-z0-9_-]{0,63}$" doc:"Only this type"`
	Status        string    `query:"status" enum:"active,archived,draft" doc:"Only this status"`
	Tags          []string  `query:"tag,explode" maxItems:"64" doc:"Repeatable; every tag must be present"`
	UserID        string    `query:"userId" maxLength:"128" doc:"Only this user's contexts"`
	CreatedAfter  time.Time `query:"createdAfter" doc:"RFC 3339; created at or after"`
	CreatedBefore time.Time `query:"createdBefore" doc:"RFC 3339; created before"`
	ListParams
}

func (p *ContextFilters) filter() contextd.ContextFilter {
	return contextd.ContextFilter{
		Type: p.Type, Status: p.Status, Tags: p.Tags, UserID: p.UserID,
		CreatedAfter: p.CreatedAfter, CreatedBefore: p.CreatedBefore,
		Limit: p.Limit, Cursor: p.Cursor, Ascending: p.ascending(),
	}
}

type contextListInput struct {
	SessionID string `query:"sessionId" maxLength:"128" doc:"Only this session's contexts"`
	ContextFilters
}

func contextLocation(id string) string { return "/v1/contexts/" + url.PathEscape(id) }

func (s *server) createContext(ctx context.Context, in *contextCreateInput) (*contextCreatedOutput, error) {
	items, err := s.svc.CreateContexts(ctx, principalOf(ctx), []contextd.ContextCreate{in.Body.domain()}, false)
	if err != nil {
		return nil, fail(ctx, err, false)
	}
	c := items[0]
	return &contextCreatedOutput{Location: contextLocation(c.ID), ETag: etag(c.Version), Body: c}, nil
}

func (s *server) createContexts(ctx context.Context, in *contextBatchInput) (*contextBatchOutput, error) {
	items := make([]contextd.ContextCreate, len(in.Body.Items))
	for i := range in.Body.Items {
		items[i] = in.Body.Items[i].domain()
	}
	out, err := s.svc.CreateContexts(ctx, principalOf(ctx), items, true)
	if err != nil {
		return nil, fail(ctx, err, true)
	}
	res := &contextBatchOutput{}
	res.Body.Items = out
	return res, nil
}

func (s *server) listContexts(ctx context.Context, in *contextListInput) (*listOutput[*contextd.Context], error) {
	f := in.filter()
	f.SessionID = in.SessionID
	items, next, err := s.svc.FindContexts(ctx, principalOf(ctx), f)
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	return &listOutput[*contextd.Context]{Body: newList(items, next)}, nil
}

func (s *server) getContext(ctx context.Context, in *getInput) (*contextOutput, error) {
	c, err := s.svc.GetContext(ctx, principalOf(ctx), in.ID)
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	if noneMatch(in.IfNoneMatch, c.Version) {
		return nil, notModified(c.Version)
	}
	return &contextOutput{ETag: etag(c.Version), Body: c}, nil
}

func (s *server) updateContext(ctx context.Context, in *contextPatchInput) (*contextOutput, error) {
	p := principalOf(ctx)
	u := in.Body.domain()
	var err error
	u.IfVersion, err = resolveIfMatch(in.IfMatch, func() (int64, error) {
		c, err := s.svc.GetContext(ctx, p, in.ID)
		if err != nil {
			return 0, err
		}
		return c.Version, nil
	})
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	c, err := s.svc.UpdateContext(ctx, p, in.ID, u)
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	return &contextOutput{ETag: etag(c.Version), Body: c}, nil
}

func (s *server) deleteContext(ctx context.Context, in *idInput) (*noContent, error) {
	if err := s.svc.DeleteContext(ctx, principalOf(ctx), in.ID); err != nil {
		return nil, problemFor(ctx, err)
	}
	return &noContent{}, nil
}

// Relationships and graph.

type relationshipCreateInput struct {
	ID   string `path:"id" doc:"The source context"`
	Body relationshipRequest
}

type relationshipOutput struct {
	Location string `header:"Location" doc:"The new relationship's URL"`
	Body     *contextd.Relationship
}

type relationshipListInput struct {
	ID        string `path:"id" doc:"The context"`
	Direction string `query:"direction" enum:"out,in,both" default:"both" doc:"out: from this context; in: to it"`
	Type      string `query:"type" pattern:"^[A-Z][A-Z0-9_]{0,63}$" doc:"Only this relationship type"`
}

type graphInput struct {
	ID        string   `path:"id" doc:"The root context"`
	Depth     int      `query:"depth" minimum:"1" maximum:"5" default:"1" doc:"Hops from the root"`
	Types     []string `query:"types" maxItems:"32" doc:"Comma-separated relationship types to follow; all when absent"`
	Direction string   `query:"direction" enum:"out,in,both" default:"both" doc:"Which edges to follow"`
	MaxNodes  int      `query:"maxNodes" minimum:"1" maximum:"5000" default:"500" doc:"Stop after this many nodes (truncated: true)"`
}

type graphOutput struct {
	Body *contextd.Graph
}

func (s *server) createRelationship(ctx context.Context, in *relationshipCreateInput) (*relationshipOutput, error) {
	r, err := s.svc.CreateRelationship(ctx, principalOf(ctx), in.Body.domain(in.ID))
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	return &relationshipOutput{Location: "/v1/relationships/" + url.PathEscape(r.ID), Body: r}, nil
}

func (s *server) listRelationships(ctx context.Context, in *relationshipListInput) (*listOutput[*contextd.Relationship], error) {
	rs, err := s.svc.FindRelationships(ctx, principalOf(ctx), contextd.RelationshipFilter{ContextID: in.ID, Direction: in.Direction, Type: in.Type})
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	return &listOutput[*contextd.Relationship]{Body: newList(rs, "")}, nil
}

func (s *server) deleteRelationship(ctx context.Context, in *idInput) (*noContent, error) {
	if err := s.svc.DeleteRelationship(ctx, principalOf(ctx), in.ID); err != nil {
		return nil, problemFor(ctx, err)
	}
	return &noContent{}, nil
}

func (s *server) graph(ctx context.Context, in *graphInput) (*graphOutput, error) {
	var types []string
	for _, t := range in.Types {
		if t != "" {
			types = append(types, t)
		}
	}
	g, err := s.svc.Graph(ctx, principalOf(ctx), contextd.GraphQuery{
		RootID: in.ID, Depth: in.Depth, Types: types, Direction: in.Direction, MaxNodes: in.MaxNodes,
	})
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	if g.Nodes == nil {
		g.Nodes = []*contextd.Context{}
	}
	if g.Edges == nil {
		g.Edges = []*contextd.Relationship{}
	}
	return &graphOutput{Body: g}, nil
}
