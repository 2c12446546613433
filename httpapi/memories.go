package httpapi

import (
	"context"
	"net/url"
	"time"

	"github.com/contextd/contextd"
)

// memoryCreateRequest is the body of POST /v1/memories and one item of a batch.
type memoryCreateRequest struct {
	ID         string         `json:"id,omitempty" pattern:"^[A-Za-z0-9][A-Za-z0-9_.~-]{0,127}$" doc:"Your own id; made by the server when absent (409 if taken)"`
	Type       string         `json:"type" enum:"fact,preference,context,instruction,example"`
	Content    string         `json:"content" minLength:"1" maxLength:"65536" doc:"Up to 64 KiB of UTF-8"`
	Importance string         `json:"importance,omitempty" enum:"low,medium,high,critical" doc:"Default medium"`
	Confidence *float64       `json:"confidence,omitempty" minimum:"0" maximum:"1" doc:"0..1, default 1"`
	Tags       []string       `json:"tags,omitempty" nullable:"false" maxItems:"64" minLength:"1" maxLength:"100" doc:"Up to 64 tags of 1..100 characters"`
	Timestamp  time.Time      `json:"timestamp,omitzero" doc:"When it was said or learnt; default now"`
	Source     string         `json:"source,omitempty" enum:"user,llm,system" doc:"Default user"`
	SessionID  string         `json:"sessionId" pattern:"^[A-Za-z0-9][A-Za-z0-9_.~-]{0,127}$" doc:"The session; created if unknown"`
	UserID     string         `json:"userId,omitempty" pattern:"^[A-Za-z0-9][A-Za-z0-9_.@:~-]{0,127}$" doc:"Default: the credential's uid, else its name or subject"`
	Metadata   map[string]any `json:"metadata,omitempty" doc:"Any JSON object up to 64 KiB"`
	ExpiresAt  *time.Time     `json:"expiresAt,omitempty" doc:"After this moment the memory is never returned"`
}

func (b *memoryCreateRequest) domain() contextd.MemoryCreate {
	return contextd.MemoryCreate{
		ID: b.ID, Type: b.Type, Content: b.Content, Importance: b.Importance, Confidence: b.Confidence,
		Tags: b.Tags, Timestamp: b.Timestamp, Source: b.Source, SessionID: b.SessionID, UserID: b.UserID,
		Metadata: b.Metadata, ExpiresAt: b.ExpiresAt,
	}
}

// memoryPatchRequest changes the fields it holds; absent fields stay.
type memoryPatchRequest struct {
	Type       *string        `json:"type,omitempty" enum:"fact,preference,context,instruction,example"`
	Content    *string        `json:"content,omitempty" minLength:"1" maxLength:"65536"`
	Importance *string        `json:"importance,omitempty" enum:"low,medium,high,critical"`
	Confidence *float64       `json:"confidence,omitempty" minimum:"0" maximum:"1"`
	Tags       *[]string      `json:"tags,omitempty" maxItems:"64" minLength:"1" maxLength:"100" doc:"Replaces every tag"`
	Source     *string        `json:"source,omitempty" enum:"user,llm,system"`
	Metadata   map[string]any `json:"metadata,omitempty" doc:"Replaces the whole object"`
	ExpiresAt  nullableTime   `json:"expiresAt,omitzero" doc:"A new expiry; null removes it"`
}

func (b *memoryPatchRequest) domain() contextd.MemoryUpdate {
	u := contextd.MemoryUpdate{Type: b.Type, Content: b.Content, Importance: b.Importance,
		Confidence: b.Confidence, Tags: b.Tags, Source: b.Source}
	if b.Metadata != nil {
		u.Metadata = &b.Metadata
	}
	if b.ExpiresAt.Set {
		u.ExpiresAt = &b.ExpiresAt.Value
	}
	return u
}

type memoryCreateInput struct {
	Body memoryCreateRequest
}

type memoryBatchInput struct {
	Body struct {
		Items []memoryCreateRequest `json:"items" minItems:"1" maxItems:"1000" nullable:"false" doc:"1..1000 memories, stored all or nothing"`
	} `nameHint:"MemoryBatchRequest"`
}

type memoryOutput struct {
	ETag string `header:"ETag" doc:"The version, quoted"`
	Body *contextd.Memory
}

type memoryCreatedOutput struct {
	Location string `header:"Location" doc:"The new memory's URL"`
	ETag     string `header:"ETag" doc:"The version, quoted"`
	Body     *contextd.Memory
}

type memoryBatchOutput struct {
	Body struct {
		Items []*contextd.Memory `json:"items"`
	} `nameHint:"MemoryBatchResponse"`
}

type memoryPatchInput struct {
	ID      string `path:"id" doc:"The memory id"`
	IfMatch string `header:"If-Match" doc:"Update only if the memory is at this ETag (412 otherwise); * for any"`
	Body    memoryPatchRequest
}

// MemoryFilters are the query parameters that filter the memory lists
// (exported only because huma finds parameters in exported embedded structs).
type MemoryFilters struct {
	UserID     string   `query:"userId" maxLength:"128" doc:"Only this user's memories"`
	Type       string   `query:"type" enum:"fact,preference,context,instruction,example" doc:"Only this type"`
	Importance string   `query:"importance" enum:"low,medium,high,critical" doc:"Only this importance"`
	Source     string   `query:"source" enum:"user,llm,system" doc:"Only this source"`
	Tags       []string `query:"tag,explode" maxItems:"64" doc:"Repeatable; every tag must be present"`
	ListParams
}

func (p *MemoryFilters) filter() contextd.MemoryFilter {
	return contextd.MemoryFilter{
		UserID: p.UserID, Type: p.Type, Importance: p.Importance, Source: p.Source, Tags: p.Tags,
		Limit: p.Limit, Cursor: p.Cursor, Ascending: p.ascending(),
	}
}

type memoryListInput struct {
	SessionID string `query:"sessionId" maxLength:"128" doc:"Only this session's memories"`
	MemoryFilters
}

// memorySearchRequest is the body of POST /v1/memories/search.
type memorySearchRequest struct {
	Query         string   `json:"query,omitempty" maxLength:"4096" doc:"Words to look for; without it memories rank by importance, confidence and recency"`
	SessionID     string   `json:"sessionId,omitempty" maxLength:"128" doc:"Only this session's memories"`
	UserID        string   `json:"userId,omitempty" maxLength:"128" doc:"Only this user's memories"`
	Types         []string `json:"types,omitempty" nullable:"false" maxItems:"5" enum:"fact,preference,context,instruction,example" doc:"Any of these types"`
	MinImportance string   `json:"minImportance,omitempty" enum:"low,medium,high,critical" doc:"At least this importance"`
	MinConfidence float64  `json:"minConfidence,omitempty" minimum:"0" maximum:"1" doc:"At least this confidence"`
	Tags          []string `json:"tags,omitempty" nullable:"false" maxItems:"64" doc:"Every tag must be present"`
	Limit         int      `json:"limit,omitempty" minimum:"1" maximum:"100" doc:"Default 10"`
	Mode          string   `json:"mode,omitempty" enum:"fulltext,semantic,hybrid" doc:"Default fulltext; semantic ranks by embedding similarity, hybrid fuses both rankings"`
	Explain       bool     `json:"explain,omitempty" doc:"Add each result's component scores: bm25, vector, fused"`
}

type memorySearchInput struct {
	Body memorySearchRequest
}

type memorySearchOutput struct {
	Body struct {
		Results []*contextd.MemoryHit `json:"results"`
	} `nameHint:"MemorySearchResponse"`
}

func memoryLocation(id string) string { return "/v1/memories/" + url.PathEscape(id) }

func (s *server) createMemory(ctx context.Context, in *memoryCreateInput) (*memoryCreatedOutput, error) {
	items, err := s.svc.CreateMemories(ctx, principalOf(ctx), []contextd.MemoryCreate{in.Body.domain()}, false)
	if err != nil {
		return nil, fail(ctx, err, false)
	}
	m := items[0]
	return &memoryCreatedOutput{Location: memoryLocation(m.ID), ETag: etag(m.Version), Body: m}, nil
}

func (s *server) createMemories(ctx context.Context, in *memoryBatchInput) (*memoryBatchOutput, error) {
	items := make([]contextd.MemoryCreate, len(in.Body.Items))
	for i := range in.Body.Items {
		items[i] = in.Body.Items[i].domain()
	}
	out, err := s.svc.CreateMemories(ctx, principalOf(ctx), items, true)
	if err != nil {
		return nil, fail(ctx, err, true)
	}
	res := &memoryBatchOutput{}
	res.Body.Items = out
	return res, nil
}

func (s *server) listMemories(ctx context.Context, in *memoryListInput) (*listOutput[*contextd.Memory], error) {
	f := in.filter()
	f.SessionID = in.SessionID
	items, next, err := s.svc.FindMemories(ctx, principalOf(ctx), f)
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	return &listOutput[*contextd.Memory]{Body: newList(items, next)}, nil
}

func (s *server) getMemory(ctx context.Context, in *getInput) (*memoryOutput, error) {
	m, err := s.svc.GetMemory(ctx, principalOf(ctx), in.ID)
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	if noneMatch(in.IfNoneMatch, m.Version) {
		return nil, notModified(m.Version)
	}
	return &memoryOutput{ETag: etag(m.Version), Body: m}, nil
}

func (s *server) updateMemory(ctx context.Context, in *memoryPatchInput) (*memoryOutput, error) {
	p := principalOf(ctx)
	u := in.Body.domain()
	var err error
	u.IfVersion, err = resolveIfMatch(in.IfMatch, func() (int64, error) {
		m, err := s.svc.GetMemory(ctx, p, in.ID)
		if err != nil {
			return 0, err
		}
		return m.Version, nil
	})
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	m, err := s.svc.UpdateMemory(ctx, p, in.ID, u)
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	return &memoryOutput{ETag: etag(m.Version), Body: m}, nil
}

func (s *server) deleteMemory(ctx context.Context, in *idInput) (*noContent, error) {
	if err := s.svc.DeleteMemory(ctx, principalOf(ctx), in.ID); err != nil {
		return nil, problemFor(ctx, err)
	}
	return &noContent{}, nil
}

func (s *server) searchMemories(ctx context.Context, in *memorySearchInput) (*memorySearchOutput, error) {
	b := &in.Body
	hits, err := s.svc.SearchMemories(ctx, principalOf(ctx), contextd.MemorySearch{
		Query: b.Query, SessionID: b.SessionID, UserID: b.UserID, Types: b.Types,
		MinImportance: b.MinImportance, MinConfidence: b.MinConfidence, Tags: b.Tags, Limit: b.Limit,
		Mode: b.Mode, Explain: b.Explain,
	})
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	out := &memorySearchOutput{}
	out.Body.Results = hits
	if out.Body.Results == nil {
		out.Body.Results = []*contextd.MemoryHit{}
	}
	return out, nil
}
